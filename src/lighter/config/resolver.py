"""Resolve ids of a parsed config into Python objects, lazily and each id at most once.

``resolve(id)`` builds only ``id`` and what it depends on. Every result is memoized, so every
``@id`` yields the same object and the whole config costs time linear in its size (MONAI's
resolver re-scans the config for every reference). Cycles are reported with the path that closes
them.

Resolution walks an explicit stack instead of recursing: each id under construction is a
generator that yields the ids it needs and receives their objects. A chain of references as long
as the config is then no deeper for the interpreter than a chain of two, and user code (targets,
expressions, imports) runs in an untouched interpreter: the garbage collector and the recursion
limit stay as the user left them.
"""

from __future__ import annotations

import warnings
from collections.abc import Generator, Sequence
from typing import Any

from lighter.config import ids
from lighter.config.components import RESERVED_KEYS, call_target, is_disabled, locate, locate_error
from lighter.config.expressions import FailedImport, Names, bound_names
from lighter.config.graph import COMPONENT, DICT, EXPRESSION, IMPORT, LIST, LITERAL, REFERENCE, Graph
from lighter.config.problems import expression_error, missing_reference, suggest_id
from lighter.errors import (
    ArgumentError,
    CircularReferenceError,
    ExpressionError,
    LighterError,
    MissingReferenceError,
    format_error,
)

__all__ = [
    "Resolver",
    "run_imports",
    "allow_missing_references",
    "use_reference_resolver",
    "reference_resolver",
    "expression_error",
]

# What a missing reference resolves to while `allow_missing_references()` is on (MONAI's switch).
_MISSING = object()

# A build step: yields (id it needs, id that refers to it or None), receives that id's object.
_Build = Generator[tuple[str, "str | None"], Any, Any]


_facade: Any = None  # MONAI's ReferenceResolver class, registered by lighter.config.reference_resolver


def use_reference_resolver(cls: Any) -> None:
    """Register MONAI's ``ReferenceResolver`` facade, which sits above the parser and this module.

    The facade owns MONAI's switch that users flip (``ReferenceResolver.allow_missing_reference``)
    and the parser's ``ref_resolver`` view; registering it when its module loads (which the
    ``lighter.config`` package does first) lets the engine reach it without importing upward.
    """
    global _facade
    _facade = cls


def reference_resolver() -> Any:
    """The registered ``ReferenceResolver`` class (see :func:`use_reference_resolver`).

    Importing any ``lighter.config`` module runs the package first, and the package loads the
    facade, so it is registered before anything can ask for it.
    """
    return _facade


def allow_missing_references() -> bool:
    """Whether a missing ``@id`` is kept as text with a warning (``ReferenceResolver.allow_missing_reference``).

    MONAI exposes this as a class attribute that users flip; it is read only when a reference is
    missing, so the switch costs nothing on the normal path.
    """
    return bool(reference_resolver().allow_missing_reference)


def run_imports(graph: Graph, names: Names) -> dict[str, Any]:
    """Run every ``$import`` of the config, in order (MONAI runs them before anything else).

    Returns:
        ``id -> module``. An import that fails gives a :class:`FailedImport` stand-in, bound to the
        names it would have bound: as in MONAI, a failed import only fails where it is used.
    """
    results: dict[str, Any] = {}
    for id_ in graph.imports:
        text, code = graph.nodes[id_][1], graph.nodes[id_][2]
        try:
            results[id_] = names.run_import(code)
        except Exception as e:  # noqa: BLE001 - any import failure becomes a config error
            error = ExpressionError(
                f"'{text}' failed: {type(e).__name__}: {e}", id=id_, location=graph.where(id_)
            )
            error.__cause__ = e
            results[id_] = stand_in = FailedImport(error)
            for name in bound_names(code):
                names.loaded[name] = stand_in
    return results


class Resolver:
    """Resolves ids of one :class:`Graph`, with one memo per (instantiate, eval_expr) choice.

    Args:
        graph: The parsed config.
        names: The names ``$`` expressions see.
        imports: The results of :func:`run_imports`.
        instantiate: Call components (else return their resolved dicts).
        eval_expr: Evaluate expressions (else return their text).
        excludes: Module-name fragments a bare MONAI ``_target_`` name is not looked up in.
    """

    def __init__(
        self,
        graph: Graph,
        names: Names,
        imports: dict[str, Any],
        *,
        instantiate: bool = True,
        eval_expr: bool = True,
        excludes: Sequence[str] = (),
    ) -> None:
        self.graph = graph
        self.nodes = graph.nodes
        self.names = names
        self.imports = imports
        self.instantiate = instantiate
        self.eval_expr = eval_expr
        self.memo: dict[str, Any] = {}
        self.active: dict[str, None] = {}  # ids being resolved, in order: the current path
        self.targets: dict[str, Any] = {}
        self.excludes = excludes

    def resolve(self, id_: str, referrer: str | None = None) -> Any:
        """Return the object at ``id_``, building it (and its dependencies) on first use.

        Args:
            id_: The id to resolve.
            referrer: The id whose value refers to ``id_`` (errors about a missing id point there).

        Raises:
            MissingReferenceError: ``id_`` does not exist.
            CircularReferenceError: ``id_`` depends on itself.
        """
        memo = self.memo
        if id_ in memo:
            return memo[id_]
        nodes, active = self.nodes, self.active
        stack: list[tuple[str, _Build]] = []  # ids under construction, innermost last
        want: tuple[str, str | None] | None = (id_, referrer)
        value: Any = None
        try:
            while True:
                if want is not None:
                    wanted, by = want
                    if wanted in memo:
                        value = memo[wanted]
                    else:
                        node = nodes.get(wanted)
                        if node is None:
                            value = self._missing_value(wanted, by)
                        elif node[0] == LITERAL:
                            value = memo[wanted] = node[1]
                        else:
                            if wanted in active:
                                raise self._cycle(wanted, by)
                            active[wanted] = None
                            stack.append((wanted, self._build(wanted, node)))
                            value = None  # starts the new generator
                    if not stack:
                        return value
                building, step = stack[-1]
                try:
                    want = step.send(value)
                except StopIteration as done:
                    stack.pop()
                    del active[building]
                    value = memo[building] = done.value
                    want = None
                    if not stack:
                        return value
        except BaseException:
            for building, step in reversed(stack):
                active.pop(building, None)
                step.close()
            raise

    def _missing_value(self, id_: str, referrer: str | None) -> Any:
        if referrer is not None and allow_missing_references():
            text = (
                f"reference '@{id_}' does not exist; kept as text (ReferenceResolver.allow_missing_reference)"
            )
            warnings.warn(format_error(text, id=referrer, location=self.graph.where(referrer)), stacklevel=4)
            return _MISSING
        raise self._missing(id_, referrer)

    def _build(self, id_: str, node: tuple[int, Any, Any]) -> _Build:
        kind, raw, extra = node
        if kind == REFERENCE:
            value = yield extra, id_
            return raw if value is _MISSING else value
        if kind == EXPRESSION:
            if not self.eval_expr:
                return raw
            code, refs = extra
            missing = []
            for ref in refs:
                if (yield ref, id_) is _MISSING:
                    missing.append(ref)
            if missing:
                code = ids.substitute_references(raw, keep=missing)
            try:
                return self.names.evaluate(code, self.memo)
            except LighterError:
                raise
            except Exception as e:
                raise expression_error(raw, e, id_, self.graph.where(id_)) from e
        if kind == IMPORT:
            return self.imports.get(id_) if self.eval_expr else raw
        if kind == LIST:
            return [v for _, v in (yield from self._children(extra))]
        if kind == DICT or not self.instantiate:
            return dict((yield from self._children(extra)))
        return (yield from self._component(id_, dict(extra)))

    def _children(self, children: list[tuple[Any, str]]) -> _Build:
        # MONAI drops a component child that resolves to None (a disabled one) from its container.
        nodes, memo = self.nodes, self.memo
        out = []
        for key, child_id in children:
            node = nodes[child_id]
            if node[0] == LITERAL:  # most values: no round trip through the stack
                out.append((key, node[1]))
                continue
            if child_id in memo:
                value = memo[child_id]
            elif node[0] == REFERENCE and node[2] in memo:  # `@id` of something built: no new step
                value = memo[child_id] = memo[node[2]]
            else:
                value = yield child_id, None
            if value is not None or node[0] != COMPONENT:
                out.append((key, value))
        return out

    def _component(self, id_: str, children: dict[Any, str]) -> _Build:
        if "_disabled_" in children and is_disabled((yield children["_disabled_"], None)):
            return None
        if "_requires_" in children:
            yield children["_requires_"], None
        target = yield children["_target_"], None
        name = target if isinstance(target, str) else getattr(target, "__qualname__", repr(target))
        if isinstance(target, str):
            if target not in self.targets:
                self.targets[target] = locate(
                    target, id=id_, location=self.graph.where(children["_target_"]), excludes=self.excludes
                )
            target = self.targets[target]
        mode = (yield children["_mode_"], None) if "_mode_" in children else "default"
        nodes, memo = self.nodes, self.memo
        kwargs = {}
        for key, child_id in children.items():
            if key in RESERVED_KEYS:
                continue
            node = nodes[child_id]
            if node[0] == LITERAL:
                kwargs[key] = node[1]
                continue
            if child_id in memo:
                value = memo[child_id]
            elif node[0] == REFERENCE and node[2] in memo:  # `@id` of something built: no new step
                value = memo[child_id] = memo[node[2]]
            else:
                value = yield child_id, None
            if value is None and node[0] == COMPONENT:
                continue
            kwargs[key] = value
        debug = is_disabled(kwargs.pop("_debug_", False))  # MONAI: enter the debugger, then build
        args: list = []
        if "_args_" in children:
            given = yield children["_args_"], None
            if not isinstance(given, (list, tuple)):
                raise ArgumentError(
                    f"_args_ must be a list of positional arguments, not {type(given).__name__}",
                    id=id_,
                    location=self.graph.where(children["_args_"]),
                )
            args = list(given)

        def where(key: str):  # key: an argument, or a path inside one ("callbacks#0")
            return self.graph.where(f"{id_}#{key}" if key and id_ else key or id_)

        try:
            return call_target(target, str(name), mode, args, kwargs, id=id_, where=where, debug=debug)
        except LighterError as error:  # a constructor's own error: add where it was configured
            locate_error(error, self.graph.where, id_)
            raise

    def _missing(self, id_: str, referrer: str | None) -> MissingReferenceError:
        if referrer is not None:
            return missing_reference(id_, referrer, self.graph.where(referrer), self.nodes.keys())
        return MissingReferenceError(
            f"id '{id_}' does not exist", id=id_, suggestion=suggest_id(id_, self.nodes.keys())
        )

    def _cycle(self, id_: str, referrer: str | None) -> CircularReferenceError:
        path = list(self.active)
        cycle = [*path[path.index(id_) :], id_]
        at = referrer if referrer is not None else path[-1]
        shown = [step or "<root>" for step in cycle]  # the root's id is "", which reads as nothing
        steps = "\n".join(
            f"{name}  ({self.graph.where(step) or 'no location'})"
            for name, step in zip(shown[:-1], cycle[:-1], strict=True)
        )
        return CircularReferenceError(
            f"circular reference: {' -> '.join(shown)}",
            id=at or "<root>",
            location=self.graph.where(at),
            details=steps,
        )
