"""Check argument values against a target's type annotations, before the target is called.

``--trainer#max_epochs=ten`` should be reported as ``expects int, got 'ten' (str)`` at the line
that set it, not as an ``AssertionError`` deep in Lightning's fit loop. :func:`type_problems`
compares each argument with its parameter's annotation; the forms understood are ``int``,
``float`` (an int is fine), ``bool`` (not accepted for ``int``: ``max_epochs: true`` is a
mistake), ``str``, ``None``/``Optional``, ``Union`` (``X | Y`` too), ``Literal``, ``Annotated``,
sequences, tuples, sets, mappings and iterables of those, ``Path``/``os.PathLike`` (a string is
fine), ``Callable``, ``type[X]``, enums (their names and values are fine) and plain classes
through ``isinstance``. Anything else (TypeVars, protocols that cannot be checked, forward
references that do not resolve, unannotated parameters) passes: a check that guesses would stop
configs that work.

A value that is not known yet (an ``@``/``$``/``%`` value before building) is :data:`UNKNOWN`
and passes every check; it is checked again once built, when the component is called.
"""

from __future__ import annotations

import collections.abc as abc
import enum
import functools
import inspect
import numbers
import os
import sys
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from pathlib import PurePath
from typing import Any

from lighter.errors import ArgumentError, Location

__all__ = ["UNKNOWN", "Mismatch", "mismatch", "describe", "annotations_of", "type_problems"]


class _Unknown:
    """A value that is only known once built; every annotation accepts it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<not known before building>"


UNKNOWN: Any = _Unknown()

_EMPTY = inspect.Parameter.empty
_NONE_TYPE = type(None)
_UNIONS = (typing.Union, types.UnionType)
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
}


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
    if value is UNKNOWN or annotation is _EMPTY or annotation is Any or annotation is object:
        return None
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return mismatch(value, typing.get_args(annotation)[0])
    if origin in _UNIONS:
        members = typing.get_args(annotation)
        found = [mismatch(value, member) for member in members]
        if any(m is None for m in found):
            return None
        shaped = [m for m, member in zip(found, members, strict=True) if _has_shape(value, member)]
        if len(shaped) == 1 and shaped[0].path:  # the one member the container could be for
            return shaped[0]
        return Mismatch((), annotation, value)
    if origin is typing.Literal:
        ok = any(_same_literal(value, option) for option in typing.get_args(annotation))
        return None if ok else Mismatch((), annotation, value)
    if not _has_shape(value, annotation):
        return Mismatch((), annotation, value)
    return _inside(value, annotation, origin)


def _has_shape(value: Any, annotation: Any) -> bool:
    """Whether ``value`` is of the outer kind ``annotation`` asks for (elements aside)."""
    if annotation is None or annotation is _NONE_TYPE:
        return value is None
    if annotation is _EMPTY or annotation is Any or annotation is object:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _has_shape(value, typing.get_args(annotation)[0])
    if origin in _UNIONS:
        return any(_has_shape(value, member) for member in typing.get_args(annotation))
    if origin is typing.Literal:
        return any(_same_literal(value, option) for option in typing.get_args(annotation))
    if isinstance(annotation, typing.TypeVar | str | typing.ForwardRef):
        return True
    if hasattr(annotation, "__supertype__"):  # typing.NewType
        return _has_shape(value, annotation.__supertype__)
    kind = origin if origin is not None else annotation
    if kind is type:
        bound = typing.get_args(annotation)
        return isinstance(value, type) and (
            not bound or not isinstance(bound[0], type) or _subclass(value, bound[0])
        )
    if kind is abc.Callable or annotation is typing.Callable:
        return callable(value)
    if not isinstance(kind, type):
        return True  # a typing form this check does not know: never guess
    return _instance(value, kind)


def _instance(value: Any, kind: type) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if kind is float:  # an int is fine where a float is expected (PEP 484)
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if kind is complex:
        return isinstance(value, numbers.Number) and not isinstance(value, bool)
    if kind is str:  # a Path where a str is annotated works almost everywhere
        return isinstance(value, str | os.PathLike)
    if kind is os.PathLike or issubclass(kind, PurePath):
        return isinstance(value, str | os.PathLike)
    if kind in (list, tuple):  # YAML has no tuples: a list stands for one
        return isinstance(value, list | tuple)
    if kind in (set, frozenset):
        return isinstance(value, list | tuple | set | frozenset)
    if kind is dict:
        return isinstance(value, abc.Mapping)
    if issubclass(kind, enum.Enum) and not isinstance(value, kind):
        # Libraries look enum members up by value or name ("mean" for Reduction.MEAN).
        return any(value == member.value or value == member.name for member in kind)
    duck = _DUCK.get(f"{kind.__module__}.{kind.__qualname__}")
    if duck is not None:
        return duck(value)
    try:
        return isinstance(value, kind)
    except TypeError:  # a protocol that is not runtime-checkable, or similar: cannot judge
        return True


def _subclass(value: type, bound: type) -> bool:
    try:
        return issubclass(value, bound)
    except TypeError:
        return True


def _inside(value: Any, annotation: Any, origin: Any) -> Mismatch | None:
    """Check the elements of a container whose outer kind already fits."""
    args = typing.get_args(annotation)
    if not args or origin is None:
        return None
    if origin in _MAPPINGS:
        if not isinstance(value, abc.Mapping) or len(args) != 2:
            return None
        for key, item in value.items():
            for part, expected in ((key, args[0]), (item, args[1])):
                found = mismatch(part, expected)
                if found is not None:
                    return Mismatch((key, *found.path), found.expected, found.value)
        return None
    # Only lists and tuples are looked into: iterating anything else (a generator) would consume it.
    if not isinstance(value, list | tuple):
        return None
    if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        if args == ((),):
            args = ()
        if len(value) != len(args):
            return Mismatch((), annotation, value)
        expected_items: Iterator[Any] = iter(args)
    elif origin in (*_SEQUENCES, *_SETS, abc.Iterable, abc.Collection, abc.Reversible):
        expected_items = iter([args[0]] * len(value))
    else:
        return None
    for index, (item, expected) in enumerate(zip(value, expected_items, strict=False)):
        found = mismatch(item, expected)
        if found is not None:
            return Mismatch((index, *found.path), found.expected, found.value)
    return None


def _same_literal(value: Any, option: Any) -> bool:
    # True == 1 in Python, but `Literal[1]` does not mean `true`.
    if isinstance(value, bool) != isinstance(option, bool):
        return False
    try:
        return bool(value == option)
    except Exception:  # noqa: BLE001 - e.g. an array compared with a string
        return False


# --- messages -------------------------------------------------------------------------------------


def describe(annotation: Any, *, top: bool = True) -> str:
    """A short readable form of an annotation: ``int``, ``torch.nn.Module | None``, ``'a' | 'b'``.

    At the top level ``None`` is left out of a union (``expects int``, as people say it).
    """
    if annotation is None or annotation is _NONE_TYPE:
        return "None"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return describe(args[0], top=top)
    if origin in _UNIONS or origin is typing.Literal:
        members = [a for a in _flatten(annotation) if not (top and a in (None, _NONE_TYPE))]
        if not members:
            return "None"
        return " | ".join(repr(m) if _is_literal_option(m) else describe(m, top=False) for m in members)
    if annotation is Any:
        return "Any"
    if annotation is abc.Callable or origin is abc.Callable or annotation is typing.Callable:
        return "callable"
    if isinstance(annotation, typing.TypeVar):
        return annotation.__name__
    if origin is not None:
        inner = ", ".join("..." if a is Ellipsis else describe(a, top=False) for a in args)
        return f"{describe(origin, top=False)}[{inner}]" if args else describe(origin, top=False)
    if isinstance(annotation, type):
        return _class_name(annotation)
    return str(annotation).replace("typing.", "")


class _LiteralOption(typing.NamedTuple):
    value: Any

    def __repr__(self) -> str:
        return repr(self.value)


def _is_literal_option(member: Any) -> bool:
    return isinstance(member, _LiteralOption)


def _flatten(annotation: Any) -> list[Any]:
    """Members of nested unions and literals, in order, literal values wrapped."""
    origin = typing.get_origin(annotation)
    if origin in _UNIONS:
        return [m for a in typing.get_args(annotation) for m in _flatten(a)]
    if origin is typing.Literal:
        return [_LiteralOption(a) for a in typing.get_args(annotation)]
    if origin is typing.Annotated:
        return _flatten(typing.get_args(annotation)[0])
    return [annotation]


# Standard-library classes everyone knows by their bare name.
_PLAIN_MODULES = ("builtins", "collections.abc", "typing", "pathlib", "os", "datetime")


@functools.lru_cache(maxsize=1024)
def _class_name(cls: type) -> str:
    """``torch.nn.Module`` rather than ``torch.nn.modules.module.Module``: the shortest loaded
    package that exports the class (only modules already imported are looked at)."""
    module = cls.__module__
    if module in _PLAIN_MODULES:
        return cls.__qualname__
    parts = module.split(".")
    for end in range(1, len(parts) + 1):
        package = sys.modules.get(".".join(parts[:end]))
        if package is not None and getattr(package, cls.__name__, None) is cls:
            return f"{'.'.join(parts[:end])}.{cls.__qualname__}"
    return f"{module}.{cls.__qualname__}"


def _shown(value: Any) -> str:
    """``'ten' (str)`` for values a config can write; ``a function`` for built objects."""
    if value is None or isinstance(value, str | int | float | bool | list | tuple | dict):
        text = repr(value)
        if len(text) > 60:
            text = text[:57] + "..."
        return f"{text} ({type(value).__name__})"
    name = type(value).__qualname__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


# --- annotations of a target ------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _cached_annotations(target: Any) -> tuple[tuple[inspect.Parameter, Any], ...] | None:
    return _read_annotations(target)


def annotations_of(target: Any) -> tuple[tuple[inspect.Parameter, Any], ...] | None:
    """Each parameter of ``target`` with its annotation evaluated (``_EMPTY`` when it cannot be).

    Cached per target, so a config with a thousand ``torch.nn.Linear`` reads the hints once.
    Returns ``None`` when the signature cannot be read.
    """
    try:
        return _cached_annotations(target)
    except TypeError:  # an unhashable callable
        return _read_annotations(target)


def _read_annotations(target: Any) -> tuple[tuple[inspect.Parameter, Any], ...] | None:
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return None
    namespace: dict[str, Any] | None = None
    out = []
    for param in params:
        annotation = param.annotation
        if isinstance(annotation, str):  # `from __future__ import annotations` in the target's module
            if namespace is None:
                namespace = _namespace(target)
            try:
                annotation = eval(annotation, namespace)  # noqa: S307 - the library's own annotation
            except Exception:  # noqa: BLE001 - e.g. a name imported only under TYPE_CHECKING
                annotation = _EMPTY
        out.append((param, annotation))
    return tuple(out)


def _namespace(target: Any) -> dict[str, Any]:
    """The globals an annotation of ``target`` was written in."""
    functions = [target.__init__, target.__new__] if isinstance(target, type) else [target]
    namespace: dict[str, Any] = {}
    module = sys.modules.get(getattr(target, "__module__", None) or "")
    if module is not None:
        namespace.update(vars(module))
    for function in functions:
        function = inspect.unwrap(getattr(function, "__func__", function))
        namespace.update(getattr(function, "__globals__", {}))
    return namespace


def _message(found: Mismatch) -> str:
    return f"expects {describe(found.expected)}, got {_shown(found.value)}"


def type_problems(
    target: Any,
    args: list,
    kwargs: Mapping[str, Any],
    *,
    id: str,  # noqa: A002
    where: Callable[[str], Location | None],
) -> list[ArgumentError]:
    """Every argument of a call to ``target`` whose value does not fit its annotation.

    Args:
        target: The callable.
        args: Positional arguments (``_args_``).
        kwargs: Keyword arguments; a value not known yet is :data:`UNKNOWN`.
        id: The component's id; problems name the argument's id (``trainer#max_epochs``).
        where: Location of a key relative to the component (``"callbacks#0"``, ``""``: itself).

    Returns:
        One :class:`~lighter.errors.ArgumentError` per argument that does not fit, in order.
    """
    params = annotations_of(target)
    if params is None:
        return []
    by_name = {p.name: (p, a) for p, a in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    positional = [(p, a) for p, a in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    var_positional = next(((p, a) for p, a in params if p.kind is p.VAR_POSITIONAL), None)
    var_keyword = next(((p, a) for p, a in params if p.kind is p.VAR_KEYWORD), None)
    checks: list[tuple[str, inspect.Parameter, Any, Any]] = []
    for index, value in enumerate(args):
        spec = positional[index] if index < len(positional) else var_positional
        if spec is not None:
            checks.append((f"_args_#{index}", *spec, value))
    for key, value in kwargs.items():
        spec = by_name.get(key, var_keyword)
        if spec is not None:
            checks.append((str(key), *spec, value))
    problems = []
    for key, param, annotation, value in checks:
        if annotation is _EMPTY or (value is None and param.default is None):
            continue  # `x: int = None` is an old way to write Optional[int]
        found = mismatch(value, annotation)
        if found is None:
            continue
        inner = "#".join([key, *(str(k) for k in found.path)])
        problems.append(
            ArgumentError(_message(found), id=f"{id}#{inner}" if id else inner, location=where(inner))
        )
    return problems
