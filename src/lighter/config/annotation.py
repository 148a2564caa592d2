"""What values a type annotation accepts, compiled once per annotation into a small function.

:func:`mismatch` answers whether a value fits an annotation, and if not, where inside it: the
deepest element that does not fit (``callbacks[0]`` rather than the whole list), following the one
member of a union that has the container's shape. Understood: ``int``, ``float`` (an int is fine),
``bool`` (not accepted for ``int``: ``max_epochs: true`` is a mistake), ``str``,
``None``/``Optional``, ``Union`` (``X | Y`` too), ``Literal``, ``Annotated``, sequences, tuples,
sets, mappings and iterables of those, ``Path``/``os.PathLike`` (a string is fine), ``Callable``,
``type[X]``, enums (their names and values are fine) and plain classes through ``isinstance``
(a number is fine for a ``torch.Tensor`` or ``numpy.ndarray``, as numeric libraries convert it).
Anything else (TypeVars, protocols that cannot be checked, forward references that do not
resolve) passes: a check that guesses would stop configs that work.

A value that is not known yet (an ``@``/``$``/``%`` value before building) is :data:`UNKNOWN`
and fits every annotation.
"""

from __future__ import annotations

import collections.abc as abc
import enum
import functools
import inspect
import numbers
import os
import types
import typing
from collections.abc import Callable
from pathlib import PurePath
from typing import Any

__all__ = ["UNKNOWN", "EMPTY", "UNIONS", "Mismatch", "Check", "mismatch", "checker"]


class _Unknown:
    """A value that is only known once built; every annotation accepts it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<not known before building>"


UNKNOWN: Any = _Unknown()

EMPTY = inspect.Parameter.empty
"""The annotation of an unannotated parameter: everything fits."""
_NONE_TYPE = type(None)
UNIONS = (typing.Union, types.UnionType)
_SEQUENCES = (list, tuple, abc.Sequence, abc.MutableSequence)
_SETS = (set, frozenset, abc.Set, abc.MutableSet)
_MAPPINGS = (dict, abc.Mapping, abc.MutableMapping)
# Classes that libraries treat by duck typing: what they really accept, by qualified name (so that
# torch is never imported here).
_DUCK: dict[str, Callable[[Any], bool]] = {
    # DataLoader indexes or iterates its dataset; a plain list works.
    "torch.utils.data.dataset.Dataset": lambda v: hasattr(v, "__getitem__") or hasattr(v, "__iter__"),
    # torch functions take "cuda:0" or 0 wherever a device is meant.
    "torch.device": lambda v: isinstance(v, str | int) and not isinstance(v, bool) or _is(v, "torch.device"),
    # Numeric libraries turn a plain number into an array or tensor where one is annotated
    # (MONAI's `NormalizeIntensity(subtrahend=0.5)`; torch ops broadcast Python scalars).
    "torch.Tensor": lambda v: _number(v) or _is(v, "torch.Tensor"),
    "numpy.ndarray": lambda v: _number(v) or _is(v, "numpy.ndarray"),
}


def _number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


# What a config file can write, and the annotations that describe such plain data.
_PLAIN = (str, bytes, int, float, bool, list, tuple, dict, type(None))
_DATA_KINDS = (int, float, complex, bool, str, bytes, list, tuple, dict, set, frozenset)


def _is(value: Any, qualified: str) -> bool:
    return any(f"{c.__module__}.{c.__qualname__}" == qualified for c in type(value).__mro__)


class Mismatch(typing.NamedTuple):
    """Where inside an argument a value does not fit, and what was expected there.

    Attributes:
        path: Keys from the argument down to the value (empty: the argument itself).
        expected: The annotation the value does not fit.
        value: The value.
    """

    path: tuple[Any, ...]
    expected: Any
    value: Any


def mismatch(value: Any, annotation: Any) -> Mismatch | None:
    """Return where ``value`` does not fit ``annotation``, or ``None`` when it fits (or cannot be judged).

    Inside containers the deepest value that does not fit is reported (``callbacks[0]`` rather than
    the whole list), following the one member of a union that has the container's shape.
    """
    return checker(annotation)(value)


# Each annotation is turned once into a pair of small functions, ``check(value) -> Mismatch | None``
# and ``shape(value) -> bool`` (the outer kind only), so that a config with a thousand components
# of one class pays the typing-module introspection once.

Check = Callable[[Any], "Mismatch | None"]
Shape = Callable[[Any], bool]


def _accept(_: Any) -> None:
    return None


def _any_shape(_: Any) -> bool:
    return True


def checker(annotation: Any) -> Check:
    """``check(value) -> Mismatch | None`` for ``annotation``, built once and cached."""
    return _checkers(annotation)


def _shape(annotation: Any) -> Shape:
    return _shapes(annotation)


def _memoized(make: Callable[[Any], Any], unreadable: Any) -> Callable[[Any], Any]:
    """``make(annotation)``, cached per annotation (built each time when it cannot be hashed, e.g.
    a Literal of a list); ``unreadable`` when ``make`` fails: what cannot be read is not judged.
    MONAI's stand-in for a missing optional import (``ignite.metrics.Metric`` without ignite)
    raises on any attribute looked up, for one."""

    def safe(annotation: Any) -> Any:
        try:
            return make(annotation)
        except Exception:  # noqa: BLE001 - never guess
            return unreadable

    cached = functools.lru_cache(maxsize=4096)(safe)

    def get(annotation: Any) -> Any:
        try:
            return cached(annotation)
        except TypeError:  # unhashable
            return safe(annotation)

    return get


def _make_checker(annotation: Any) -> Check:
    if annotation is EMPTY or annotation is Any or annotation is object:
        return _accept
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return checker(args[0])
    if origin in UNIONS:
        return _union_checker(annotation, args)
    shape = _shape(annotation)
    inner = _inner_checker(annotation, origin, args)
    if origin in _SEQUENCES and args and args[0] is not Ellipsis:
        # MONAI (ensure_tuple) and many others take one value where a sequence of them is
        # annotated (`latent_shape: 64` for Sequence[int]): that value fits too.
        return _or_one_item(_whole(annotation, shape, inner), checker(args[0]))
    if inner is None:  # the common case (int, str, a class): the outer kind is all there is

        def plain(value: Any) -> Mismatch | None:
            return None if shape(value) else Mismatch((), annotation, value)

        return plain
    return _whole(annotation, shape, inner)


def _whole(annotation: Any, shape: Shape, inner: Check | None) -> Check:
    def check(value: Any) -> Mismatch | None:
        if value is UNKNOWN:
            return None
        if not shape(value):
            return Mismatch((), annotation, value)
        return inner(value) if inner is not None else None

    return check


def _or_one_item(whole: Check, item: Check) -> Check:
    def check(value: Any) -> Mismatch | None:
        found = whole(value)
        if found is None or isinstance(value, list | tuple | str | abc.Mapping) or item(value) is not None:
            return found
        return None

    return check


def _union_checker(annotation: Any, members: tuple[Any, ...]) -> Check:
    # Members are tried by their outer kind first, so a fitting value costs a few isinstance calls
    # and no Mismatch is made unless every member fails.
    parts = []
    for member in members:
        origin = typing.get_origin(member)
        if origin is typing.Annotated or origin in UNIONS:
            parts.append((_any_shape, checker(member)))
        else:
            parts.append((_shape(member), _inner_checker(member, origin, typing.get_args(member))))

    def check(value: Any) -> Mismatch | None:
        if value is UNKNOWN:
            return None
        shaped = []
        for shape, inner in parts:
            if shape(value):
                if inner is None:
                    return None
                found = inner(value)
                if found is None:
                    return None
                shaped.append(found)
        if len(shaped) == 1 and shaped[0].path:  # the one member the container could be for
            return shaped[0]
        return Mismatch((), annotation, value)

    return check


def _inner_checker(annotation: Any, origin: Any, args: tuple[Any, ...]) -> Check | None:
    """Check the elements of a container whose outer kind already fits (``None``: nothing to check)."""
    if not args or origin is None:
        return None
    if origin in _MAPPINGS:
        if len(args) != 2:
            return None
        key_check, item_check = checker(args[0]), checker(args[1])

        def mapping(value: Any) -> Mismatch | None:
            if not isinstance(value, abc.Mapping):
                return None
            for key, item in value.items():
                found = key_check(key) or item_check(item)
                if found is not None:
                    return Mismatch((key, *found.path), found.expected, found.value)
            return None

        return mapping
    if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        checks = [] if args == ((),) else [checker(a) for a in args]

        def fixed(value: Any) -> Mismatch | None:
            if not isinstance(value, list | tuple):
                return None
            if len(value) != len(checks):
                return Mismatch((), annotation, value)
            return _first_misfit(value, checks)

        return fixed
    if origin in (*_SEQUENCES, *_SETS, abc.Iterable, abc.Collection, abc.Reversible):
        item_check = checker(args[0])
        if item_check is _accept:
            return None

        def items(value: Any) -> Mismatch | None:
            # Only lists and tuples are looked into: iterating a generator would consume it.
            if not isinstance(value, list | tuple):
                return None
            for index, item in enumerate(value):
                found = item_check(item)
                if found is not None:
                    return Mismatch((index, *found.path), found.expected, found.value)
            return None

        return items
    return None


def _first_misfit(value: list | tuple, checks: list[Check]) -> Mismatch | None:
    for index, (item, check) in enumerate(zip(value, checks, strict=True)):
        found = check(item)
        if found is not None:
            return Mismatch((index, *found.path), found.expected, found.value)
    return None


def _make_shape(annotation: Any) -> Shape:
    """``shape(value)``: whether ``value`` is of the outer kind ``annotation`` asks for."""
    if annotation is None or annotation is _NONE_TYPE:
        return lambda v: v is None or v is UNKNOWN
    if annotation is EMPTY or annotation is Any or annotation is object:
        return _any_shape
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _shape(args[0])
    if origin in UNIONS:
        shapes = [_shape(member) for member in args]
        return lambda v: any(shape(v) for shape in shapes)
    if origin is typing.Literal:
        try:  # (is it a bool, value): True == 1, but Literal[1] does not mean `true`
            options = frozenset((isinstance(o, bool), o) for o in args)
        except TypeError:
            return lambda v: v is UNKNOWN or any(_same_literal(v, option) for option in args)
        return lambda v: v is UNKNOWN or _in_literal(v, options, args)
    if isinstance(annotation, typing.TypeVar | str | typing.ForwardRef):
        return _any_shape
    if hasattr(annotation, "__supertype__"):  # typing.NewType
        return _shape(annotation.__supertype__)
    kind = origin if origin is not None else annotation
    if kind is type:
        bound = args[0] if args and isinstance(args[0], type) else object
        return lambda v: v is UNKNOWN or isinstance(v, type) and _subclass(v, bound)
    if kind is abc.Callable or annotation is typing.Callable:
        return lambda v: v is UNKNOWN or callable(v)
    if not isinstance(kind, type):
        return _any_shape  # a typing form this check does not know: never guess
    test = _instance_test(kind)
    if kind in _DATA_KINDS:
        # Libraries annotate plain data (`map_location: dict`) where they also take objects of
        # their own (a torch.device): a built object is judged only against a class annotation.
        return lambda v: v is UNKNOWN or not isinstance(v, _PLAIN) or test(v)
    return lambda v: v is UNKNOWN or test(v)


def _instance_test(kind: type) -> Shape:
    if kind is bool:
        return lambda v: isinstance(v, bool)
    if kind is int:
        return lambda v: type(v) is int or isinstance(v, numbers.Integral) and not isinstance(v, bool)
    if kind is float:  # an int is fine where a float is expected (PEP 484)
        return lambda v: type(v) is float or isinstance(v, numbers.Real) and not isinstance(v, bool)
    if kind is complex:
        return lambda v: isinstance(v, numbers.Number) and not isinstance(v, bool)
    if kind is str:  # a Path where a str is annotated works almost everywhere
        return lambda v: isinstance(v, str | os.PathLike)
    if kind is os.PathLike or issubclass(kind, PurePath):
        return lambda v: isinstance(v, str | os.PathLike)
    if kind in (list, tuple):  # YAML has no tuples: a list stands for one
        return lambda v: isinstance(v, list | tuple)
    if kind in (set, frozenset):
        return lambda v: isinstance(v, list | tuple | set | frozenset)
    if kind is dict:
        return lambda v: isinstance(v, abc.Mapping)
    if issubclass(kind, enum.Enum):
        # Libraries look enum members up by value or name ("mean" for Reduction.MEAN).
        names = {member.name for member in kind}
        values = [member.value for member in kind]
        return lambda v: isinstance(v, kind) or _hashable_in(v, names) or any(_equal(v, x) for x in values)
    # A library's own Dataset subclass in an annotation (monai.data.Dataset) is duck-typed too.
    duck = next(
        (_DUCK[n] for n in (f"{c.__module__}.{c.__qualname__}" for c in kind.__mro__) if n in _DUCK), None
    )
    if duck is not None:
        return duck

    def instance(value: Any) -> bool:
        try:
            return isinstance(value, kind)
        except TypeError:  # a protocol that is not runtime-checkable, or similar: cannot judge
            return True

    return instance


def _in_literal(value: Any, options: frozenset, args: tuple[Any, ...]) -> bool:
    try:
        return (isinstance(value, bool), value) in options
    except TypeError:  # an unhashable value: compare one by one
        return any(_same_literal(value, option) for option in args)


def _hashable_in(value: Any, names: set[str]) -> bool:
    return isinstance(value, str) and value in names


def _equal(value: Any, other: Any) -> bool:
    try:
        return bool(value == other)
    except Exception:  # noqa: BLE001 - e.g. an array compared with a string
        return False


def _subclass(value: type, bound: type) -> bool:
    try:
        return issubclass(value, bound)
    except TypeError:
        return True


def _same_literal(value: Any, option: Any) -> bool:
    # True == 1 in Python, but `Literal[1]` does not mean `true`.
    if isinstance(value, bool) != isinstance(option, bool):
        return False
    return _equal(value, option)


_checkers = _memoized(_make_checker, _accept)
_shapes = _memoized(_make_shape, _any_shape)
