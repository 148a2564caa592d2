"""Fixtures for the callback tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def images() -> list[torch.Tensor]:
    """Ten 1×4×5 float images."""
    generator = torch.Generator().manual_seed(1)
    return [torch.rand(1, 4, 5, generator=generator) for _ in range(10)]
