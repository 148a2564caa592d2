"""Compare what two config parsers built: value equivalence and shared-object structure.

Used by the differential tests against ``monai.bundle.ConfigParser``. Two results are
*equivalent* when they have the same types and the same values all the way down; objects that
are rebuilt afresh by each parser (networks with random weights, random states, locks) are
compared by their structure, not their values.
"""

from __future__ import annotations

import enum
import functools
import math
import re
import types
from collections.abc import Iterator
from typing import Any

__all__ = ["equivalent", "difference", "shared_groups", "all_ids"]

_ATOMS = (str, bytes, int, float, complex, bool, type(None), range, slice, enum.Enum)
# Objects whose state is random or process-bound: the same type is all we can ask for.
_OPAQUE_TYPE_NAMES = {
    "RandomState",
    "Generator",
    "lock",
    "RLock",
    "Lock",
    "Thread",
    "Event",
    "Condition",
    "Logger",
}
# A failed ``$import`` binds a stand-in that raises when used: MONAI's and ours are alike.
_FAILED_IMPORT = {"_LazyRaise", "FailedImport"}
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_MAX_DEPTH = 12
_STAMP = re.compile(r"\d{6,}")


def equivalent(a: Any, b: Any) -> bool:
    """Return whether ``a`` and ``b`` are equivalent results of resolving the same config."""
    return difference(a, b) is None


def difference(a: Any, b: Any, path: str = "", *, strict: bool = True) -> str | None:
    """Return a one-line description of the first difference between ``a`` and ``b``, or ``None``.

    Args:
        a: What MONAI built.
        b: What lighter built.
        path: The id of ``a`` and ``b``, used in the description.
        strict: Off for real-world configs, whose results hold random float tensors and time stamps:
            then floating-point tensors are compared by shape and dtype, and strings that differ
            only in long runs of digits (``output_20261128_161035``) are taken as equal.
    """
    return _Compare(strict).diff(a, b, path, 0)


class _Compare:
    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.seen: set[tuple[int, int]] = set()

    def diff(self, a: Any, b: Any, path: str, depth: int) -> str | None:
        return _difference(self, a, b, path, depth)


def _difference(cmp: _Compare, a: Any, b: Any, path: str, depth: int) -> str | None:
    where = path or "<root>"
    if a is b:
        return None
    if type(a) is not type(b):
        if {type(a).__name__, type(b).__name__} <= _FAILED_IMPORT:
            return None
        if _qualified(type(a)) == _qualified(type(b)):
            return None  # classes made at run time (optional-import placeholders): the name is all we have
        return f"{where}: type {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, _ATOMS):
        if isinstance(a, float) and math.isnan(a) and math.isnan(b):
            return None
        if a == b or (not cmp.strict and isinstance(a, str) and _STAMP.sub("#", a) == _STAMP.sub("#", b)):
            return None
        return f"{where}: {a!r} != {b!r}"
    if depth > _MAX_DEPTH or (id(a), id(b)) in cmp.seen:
        return None
    cmp.seen.add((id(a), id(b)))
    if isinstance(a, dict):
        if list(a) != list(b):
            return f"{where}: keys {list(a)} != {list(b)}"
        return _first(cmp.diff(a[k], b[k], f"{path}#{k}", depth + 1) for k in a)
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return f"{where}: length {len(a)} != {len(b)}"
        return _first(
            cmp.diff(x, y, f"{path}#{i}", depth + 1) for i, (x, y) in enumerate(zip(a, b, strict=True))
        )
    if isinstance(a, (set, frozenset)):
        return None if a == b else f"{where}: {a!r} != {b!r}"
    if isinstance(a, functools.partial):
        return (
            cmp.diff(a.func, b.func, f"{where}.func", depth + 1)
            or cmp.diff(a.args, b.args, f"{where}.args", depth + 1)
            or cmp.diff(a.keywords, b.keywords, f"{where}.keywords", depth + 1)
        )
    if isinstance(a, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)):
        same = _qualified(a) == _qualified(b)
        return None if same else f"{where}: {a!r} != {b!r}"
    special = _compare_torch(cmp, a, b, where)
    if special is not NotImplemented:
        return special
    if type(a).__name__ in _OPAQUE_TYPE_NAMES:
        return None
    state_a, state_b = _state(a), _state(b)
    if state_a is not None and state_b is not None:
        return cmp.diff(state_a, state_b, f"{where}.__dict__", depth + 1)
    try:
        if a == b:
            return None
    except Exception:  # noqa: BLE001 - some objects refuse to compare; fall back to their repr
        pass
    same_repr = _ADDRESS.sub("", repr(a)) == _ADDRESS.sub("", repr(b))
    return None if same_repr else f"{where}: {a!r} != {b!r}"


def _qualified(obj: Any) -> tuple:
    return getattr(obj, "__module__", None), getattr(obj, "__qualname__", getattr(obj, "__name__", None))


def _first(diffs: Iterator[str | None]) -> str | None:
    return next((d for d in diffs if d is not None), None)


def _state(obj: Any) -> dict | None:
    """Instance attributes (``__dict__`` and ``__slots__``) of a plain object, or ``None``."""
    state = dict(vars(obj)) if hasattr(obj, "__dict__") else None
    slots = [s for cls in type(obj).__mro__ for s in getattr(cls, "__slots__", ()) if isinstance(s, str)]
    if slots:
        state = state or {}
        state.update({s: getattr(obj, s) for s in slots if hasattr(obj, s) and s != "__weakref__"})
    if state:
        # Random states are set on objects by global seeding, which depends on what ran before.
        state = {k: v for k, v in state.items() if type(v).__name__ not in _OPAQUE_TYPE_NAMES}
    return state


def _compare_torch(cmp: _Compare, a: Any, b: Any, where: str) -> Any:
    """Tensors by value; modules and optimizers by structure (their weights are random)."""
    torch = _torch()
    if torch is None:
        return NotImplemented
    if isinstance(a, torch.Tensor):
        same = a.shape == b.shape and a.dtype == b.dtype
        if a.is_floating_point():
            same = same and (not cmp.strict or torch.allclose(a, b, rtol=0, atol=0, equal_nan=True))
        else:
            same = same and torch.equal(a, b)
        return None if same else f"{where}: tensor {tuple(a.shape)} {a.dtype} != {tuple(b.shape)} {b.dtype}"
    if isinstance(a, torch.nn.Module):
        shapes_a = {k: tuple(v.shape) for k, v in a.state_dict().items()}
        shapes_b = {k: tuple(v.shape) for k, v in b.state_dict().items()}
        if shapes_a != shapes_b:
            return f"{where}: {type(a).__name__} parameters differ"
        return None if repr(a) == repr(b) else f"{where}: {type(a).__name__} structure differs"
    if isinstance(a, torch.optim.Optimizer):
        counts_a = [sum(p.numel() for p in g["params"]) for g in a.param_groups]
        counts_b = [sum(p.numel() for p in g["params"]) for g in b.param_groups]
        hyper_a = [{k: v for k, v in g.items() if k != "params"} for g in a.param_groups]
        hyper_b = [{k: v for k, v in g.items() if k != "params"} for g in b.param_groups]
        same = counts_a == counts_b and cmp.diff(hyper_a, hyper_b, where, 0) is None
        return None if same else f"{where}: {type(a).__name__} param groups differ"
    if isinstance(a, (torch.dtype, torch.device, torch.Size)):
        return None if a == b else f"{where}: {a!r} != {b!r}"
    if isinstance(a, torch.Generator):
        return None
    return NotImplemented


@functools.cache
def _torch() -> Any:
    try:
        import torch
    except ImportError:  # the comparator also works on plain Python results
        return None
    return torch


def shared_groups(result: Any) -> set[frozenset[str]]:
    """Paths inside ``result`` that hold one and the same (mutable, non-container-literal) object.

    Plain dicts/lists are left out: whether two copies of a config-literal dict are one object is an
    implementation detail in MONAI. Instances built from components (``OrderedDict``, modules,
    namespaces, partials …) are tracked, so ``@x`` twice must give one object and ``%x`` twice two.
    """
    paths: dict[int, list[str]] = {}
    keep: list[Any] = []  # keeps ids stable while walking

    def walk(obj: Any, path: str, depth: int) -> None:
        if depth > _MAX_DEPTH or isinstance(obj, _ATOMS) or isinstance(obj, (type, types.ModuleType)):
            return
        if callable(obj) and not isinstance(obj, functools.partial) and not hasattr(obj, "__dict__"):
            return  # builtin functions are singletons anyway
        tracked = type(obj) not in (dict, list, tuple)
        if tracked:
            keep.append(obj)
            first_visit = id(obj) not in paths
            paths.setdefault(id(obj), []).append(path)
            if not first_visit:
                return
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, f"{path}#{k}", depth + 1)
        elif isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj):
                walk(v, f"{path}#{i}", depth + 1)

    walk(result, "", 0)
    return {frozenset(p) for p in paths.values() if len(p) > 1}


def all_ids(config: Any, prefix: str = "") -> list[str]:
    """Every id inside a raw config, parents before children (document order)."""
    ids: list[str] = []
    items = (
        config.items() if isinstance(config, dict) else enumerate(config) if isinstance(config, list) else ()
    )
    for key, value in items:
        sub = f"{prefix}#{key}" if prefix else str(key)
        ids.append(sub)
        ids.extend(all_ids(value, sub))
    return ids
