"""Run experiment stages: the stage table, structure validation, pruning and the runner.

``Stage`` and ``STAGES`` are cheap to import (the CLI builds its commands from them); ``run`` loads
the runner, and with it Lightning, on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from lighter.engine.stages import STAGES, Stage

__all__ = ["Stage", "STAGES", "run", "validate_structure"]

# `prune` is not re-exported: the submodule of that name would shadow it once imported.
_LAZY = {"run": "lighter.engine.runner", "validate_structure": "lighter.engine.schema"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lighter.engine' has no attribute '{name}'")
    return getattr(importlib.import_module(module), name)
