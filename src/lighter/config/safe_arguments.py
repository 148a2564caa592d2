"""Safe mode's judgement of a component's arguments: the few that make an allowed class unpickle
or import what the config names.

* ``allow_pickle`` other than ``false`` and ``weights_only`` other than ``true``, on any component:
  ``monai.transforms.LoadImage(reader="NumpyReader", allow_pickle=True)`` hands it to
  ``numpy.load``, which then unpickles the file it reads;
* a string ``reader``/``writer`` of a MONAI component that is not one of MONAI's image readers or
  writers: ``SaveImage`` imports a dotted ``writer`` name itself (``writer: subprocess.Popen``).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from lighter.config.safe_list import resolve

__all__ = ["UNPICKLING_ARGUMENTS", "argument_refusals"]

UNPICKLING_ARGUMENTS = {"allow_pickle": False, "weights_only": True}
"""Arguments that decide whether a reader unpickles, with the one value safe mode accepts."""

# A string naming a class, and the base that class must have.
_NAMED_BY_STRING = {"reader": "monai.data.ImageReader", "writer": "monai.data.ImageWriter"}


def argument_refusals(target: str | None, arguments: Mapping[str, Any]) -> dict[str, str]:
    """Why safe mode refuses arguments of the component ``target`` (``None``: not a literal), by key."""
    refused = {}
    for key, accepted in UNPICKLING_ARGUMENTS.items():
        if key in arguments and arguments[key] is not accepted:
            refused[key] = (
                f"safe mode refuses {key}: {arguments[key]!r} (only {key}: {str(accepted).lower()}): "
                "it unpickles what it reads"
            )
    if target is not None:
        for key in _NAMED_BY_STRING:
            why = _named_class(target, key, arguments.get(key))
            if why is not None:
                refused[key] = why
    return refused


def _named_class(target: str, key: str, value: Any) -> str | None:
    if not isinstance(value, str) or target.split(".")[0] == "project":
        return None
    try:
        obj = resolve(target)
    except Exception:  # noqa: BLE001 - it cannot be built either: the resolver reports it
        return None
    if not str(getattr(obj, "__module__", "")).startswith("monai."):
        return None  # e.g. lighter's FileWriter: its writer names come from its own table
    base, named = _try(_NAMED_BY_STRING[key]), _try(f"monai.data.{value}") if value.isidentifier() else None
    if inspect.isclass(named) and inspect.isclass(base) and issubclass(named, base):
        return None
    if key == "reader" and value.lower() in getattr(
        _try("monai.transforms.io.array"), "SUPPORTED_READERS", {}
    ):
        return None
    kind = "an image reader" if key == "reader" else "an image writer"
    return f"safe mode refuses {key}: {value!r}: it does not name {kind} of monai.data (MONAI would import it by name)"


def _try(name: str) -> Any:
    try:
        return resolve(name)
    except Exception:  # noqa: BLE001 - MONAI is optional
        return None
