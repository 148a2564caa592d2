"""The seam through which ``System.load_from_checkpoint`` reaches lighter's checkpoint loader.

Loading a lighter checkpoint means building the config it carries, which is the engine's work,
and the engine builds Systems: the System importing the loader would close an import circle. The
``lighter`` package, which sits above both and is always imported first, plugs the loader in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["use_loader", "loader"]

_loader: Callable[..., Any] | None = None


def use_loader(function: Callable[..., Any]) -> None:
    """Plug in the function that rebuilds a module from a checkpoint (``lighter.load_checkpoint``)."""
    global _loader
    _loader = function


def loader() -> Callable[..., Any]:
    """The plugged-in loader; the ``lighter`` package plugs it in when it is imported."""
    if _loader is None:  # not reachable through a normal import: the package runs first
        raise RuntimeError("lighter's checkpoint loader is not plugged in (import lighter first)")
    return _loader
