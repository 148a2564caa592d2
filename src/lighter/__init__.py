"""lighter: config-centric deep learning.

Public names are imported lazily so that ``import lighter`` (and ``lighter --help``) stay cheap:
torch, Lightning and MONAI load only when a name that needs them is first used.
"""

from __future__ import annotations

import importlib
from typing import Any

from lighter._system import checkpoint_hook
from lighter._version import __version__

_EXPORTS = {
    "System": "lighter.system",
    "BatchAdapter": "lighter.adapters",
    "CriterionAdapter": "lighter.adapters",
    "MetricsAdapter": "lighter.adapters",
    "LoggingAdapter": "lighter.adapters",
    "ConfigParser": "lighter.config",
    "LighterError": "lighter.errors",
    "ConfigError": "lighter.errors",
    "ValidationError": "lighter.errors",
    "load": "lighter.api",
    "load_checkpoint": "lighter.api",
    "Experiment": "lighter.api",
}

# Subpackages reachable as attributes (`$import lighter` then `$lighter.utils.model.X`).
_SUBPACKAGES = ("utils",)

__all__ = [*_EXPORTS, "__version__"]


def _load_checkpoint(*args: Any, **kwargs: Any) -> Any:
    from lighter.api import load_checkpoint

    return load_checkpoint(*args, **kwargs)


# System.load_from_checkpoint needs the engine, which builds Systems: the package, above both,
# connects them (a cheap, torch-free module).
checkpoint_hook.use_loader(_load_checkpoint)


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lighter' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*__all__, *_SUBPACKAGES])
