"""Helpers to call from a config, under the names the original Lighter (0.0.x) gave them.

:mod:`lighter.utils.model` changes and loads models: ``_target_: lighter.utils.model.replace_layer_with``.
Submodules load on first use, so ``import lighter.utils`` imports no torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["model"]


def __getattr__(name: str) -> Any:
    # `$lighter.utils.model.X` in an expression reaches the submodule by attribute access.
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'lighter.utils' has no attribute '{name}'")
