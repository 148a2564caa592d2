"""The real ``lighter`` command for tests of ``lighter runs``: it imports no torch, so each call is quick."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

LIGHTER = Path(sys.executable).with_name("lighter")


def run_lighter(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LIGHTER_DEBUG"}
    return subprocess.run(
        [str(LIGHTER), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="session")
def lighter():
    return run_lighter
