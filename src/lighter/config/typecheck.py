"""Check the arguments of a call against the target's type annotations, before it is called.

``--trainer#max_epochs=ten`` should be reported as ``expects int, got 'ten' (str)`` at the line
that set it, not as an ``AssertionError`` deep in Lightning's fit loop. :func:`type_problems`
reads the target's annotations once (string annotations are evaluated in the target's module;
one that does not resolve is skipped), works out a checker per parameter
(:mod:`.annotation`), and returns one located error per argument that does not fit. Unannotated
parameters pass, and ``None`` always passes. It runs in the pre-flight (:mod:`.static_check`) on
what a config writes literally; built objects are not checked (library annotations are often
looser than what the library takes).
"""

from __future__ import annotations

import collections.abc as abc
import functools
import inspect
import sys
import typing
from collections.abc import Callable, Mapping
from typing import Any

from lighter.config.annotation import EMPTY, UNIONS, Check, Mismatch, checker
from lighter.errors import ArgumentError, Location

__all__ = ["describe", "annotations_of", "type_problems"]

_NONE_TYPE = type(None)


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
    if origin in UNIONS or origin is typing.Literal:
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
    if origin in UNIONS:
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
    """Each parameter of ``target`` with its annotation evaluated (``EMPTY`` when it cannot be).

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
                annotation = EMPTY
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
        kwargs: Keyword arguments; a value not known yet is :data:`~lighter.config.annotation.UNKNOWN`.
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
        if spec is not None and value is not None:
            misfit = spec[0](value)
            if misfit is not None:
                found.append((f"_args_#{index}", misfit))
    for key, value in kwargs.items():
        spec = by_name[key] if key in by_name else var_keyword
        # null always passes: `x: int = None` is an old way to write Optional[int], and libraries
        # (MONAI) annotate `str` where they take None too.
        if spec is not None and value is not None:
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
        spec = None if annotation is EMPTY else (checker(annotation), param.default is None)
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            positional.append(spec)
        if param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            by_name[param.name] = spec  # None: unannotated, never checked (not even as **kwargs)
        if param.kind is param.VAR_POSITIONAL:
            var_positional = spec
        if param.kind is param.VAR_KEYWORD:
            var_keyword = spec
    return by_name, positional, var_positional, var_keyword
