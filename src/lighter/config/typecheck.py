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
from collections.abc import Callable, Mapping
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
    return _checker(annotation)(value)


# Each annotation is turned once into a pair of small functions, ``check(value) -> Mismatch | None``
# and ``shape(value) -> bool`` (the outer kind only), so that a config with a thousand components
# of one class pays the typing-module introspection once.

Check = Callable[[Any], "Mismatch | None"]
Shape = Callable[[Any], bool]


def _accept(_: Any) -> None:
    return None


def _any_shape(_: Any) -> bool:
    return True


def _checker(annotation: Any) -> Check:
    try:
        return _cached_checker(annotation)
    except TypeError:  # an unhashable annotation (e.g. Literal of a list): build it each time
        return _build_checker(annotation)


@functools.lru_cache(maxsize=4096)
def _cached_checker(annotation: Any) -> Check:
    return _build_checker(annotation)


def _shape(annotation: Any) -> Shape:
    try:
        return _cached_shape(annotation)
    except TypeError:
        return _build_shape(annotation)


@functools.lru_cache(maxsize=4096)
def _cached_shape(annotation: Any) -> Shape:
    return _build_shape(annotation)


def _build_checker(annotation: Any) -> Check:
    if annotation is _EMPTY or annotation is Any or annotation is object:
        return _accept
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _checker(args[0])
    if origin in _UNIONS:
        return _union_checker(annotation, args)
    shape = _shape(annotation)
    inner = _inner_checker(annotation, origin, args)
    if inner is None:  # the common case (int, str, a class): the outer kind is all there is

        def plain(value: Any) -> Mismatch | None:
            return None if shape(value) else Mismatch((), annotation, value)

        return plain

    def check(value: Any) -> Mismatch | None:
        if value is UNKNOWN:
            return None
        if not shape(value):
            return Mismatch((), annotation, value)
        return inner(value) if inner is not None else None

    return check


def _union_checker(annotation: Any, members: tuple[Any, ...]) -> Check:
    # Members are tried by their outer kind first, so a fitting value costs a few isinstance calls
    # and no Mismatch is made unless every member fails.
    parts = []
    for member in members:
        origin = typing.get_origin(member)
        if origin is typing.Annotated or origin in _UNIONS:
            parts.append((_any_shape, _checker(member)))
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
        key_check, item_check = _checker(args[0]), _checker(args[1])

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
        checks = [] if args == ((),) else [_checker(a) for a in args]

        def fixed(value: Any) -> Mismatch | None:
            if not isinstance(value, list | tuple):
                return None
            if len(value) != len(checks):
                return Mismatch((), annotation, value)
            return _first_misfit(value, checks)

        return fixed
    if origin in (*_SEQUENCES, *_SETS, abc.Iterable, abc.Collection, abc.Reversible):
        item_check = _checker(args[0])
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


def _build_shape(annotation: Any) -> Shape:
    """``shape(value)``: whether ``value`` is of the outer kind ``annotation`` asks for."""
    if annotation is None or annotation is _NONE_TYPE:
        return lambda v: v is None or v is UNKNOWN
    if annotation is _EMPTY or annotation is Any or annotation is object:
        return _any_shape
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _shape(args[0])
    if origin in _UNIONS:
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
    duck = _DUCK.get(f"{kind.__module__}.{kind.__qualname__}")
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
    plan = _plan(target)
    if plan is None:
        return []
    by_name, positional, var_positional, var_keyword = plan
    found: list[tuple[str, Mismatch]] = []
    for index, value in enumerate(args):
        spec = positional[index] if index < len(positional) else var_positional
        if spec is not None and (value is not None or not spec[1]):
            misfit = spec[0](value)
            if misfit is not None:
                found.append((f"_args_#{index}", misfit))
    for key, value in kwargs.items():
        spec = by_name[key] if key in by_name else var_keyword
        # `x: int = None` is an old way to write Optional[int]: None passes there.
        if spec is not None and (value is not None or not spec[1]):
            misfit = spec[0](value)
            if misfit is not None:
                found.append((str(key), misfit))
    problems = []
    for key, misfit in found:
        inner = "#".join([key, *(str(k) for k in misfit.path)])
        problems.append(
            ArgumentError(_message(misfit), id=f"{id}#{inner}" if id else inner, location=where(inner))
        )
    return problems


# A parameter to check: its value checker, and whether its default is None.
_Param = tuple[Check, bool]
_Plan = tuple[dict[str, _Param | None], list[_Param | None], _Param | None, _Param | None]


def _plan(target: Any) -> _Plan | None:
    try:
        return _cached_plan(target)
    except TypeError:  # an unhashable callable
        return _build_plan(target)


@functools.lru_cache(maxsize=4096)
def _cached_plan(target: Any) -> _Plan | None:
    return _build_plan(target)


def _build_plan(target: Any) -> _Plan | None:
    """What to check for each parameter of ``target``, worked out once per target."""
    params = annotations_of(target)
    if params is None:
        return None
    by_name: dict[str, _Param | None] = {}
    positional: list[_Param | None] = []
    var_positional = var_keyword = None
    for param, annotation in params:
        spec = None if annotation is _EMPTY else (_checker(annotation), param.default is None)
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            positional.append(spec)
        if param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            by_name[param.name] = spec  # None: unannotated, never checked (not even as **kwargs)
        if param.kind is param.VAR_POSITIONAL:
            var_positional = spec
        if param.kind is param.VAR_KEYWORD:
            var_keyword = spec
    return by_name, positional, var_positional, var_keyword
