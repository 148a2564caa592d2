"""Resolve ids of a parsed config into Python objects, lazily and each id at most once.

``resolve(id)`` builds only ``id`` and what it depends on. Every result is memoized, so every
``@id`` yields the same object and the whole config costs time linear in its size (MONAI's
resolver re-scans the config for every reference). Cycles are reported with the path that closes
them.
"""

from __future__ import annotations

import gc
import sys
from contextlib import contextmanager
from typing import Any

from lighter.config.components import RESERVED_KEYS, call_target, is_disabled, locate, locate_error
from lighter.config.expressions import FailedImport, Names, bound_names
from lighter.config.graph import COMPONENT, DICT, EXPRESSION, IMPORT, LIST, LITERAL, REFERENCE, Graph
from lighter.errors import (
    ArgumentError,
    CircularReferenceError,
    ExpressionError,
    LighterError,
    MissingReferenceError,
    did_you_mean,
)

__all__ = ["Resolver", "run_imports", "deep_recursion"]

# A chain of references is resolved by recursion; configs with long chains need more than the
# default 1,000 frames (a few frames per link).
_RECURSION_LIMIT = 100_000


@contextmanager
def deep_recursion():
    """Allow deep recursion, and pause the cyclic garbage collector, for one parse or resolution.

    The walk creates many small containers; generation-2 collections over them would make the
    cost grow faster than the config (reference counting still frees everything meanwhile).
    """
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, _RECURSION_LIMIT))
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
        sys.setrecursionlimit(old)


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
    """

    def __init__(
        self,
        graph: Graph,
        names: Names,
        imports: dict[str, Any],
        *,
        instantiate: bool = True,
        eval_expr: bool = True,
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
        node = self.nodes.get(id_)
        if node is None:
            raise self._missing(id_, referrer)
        if node[0] == LITERAL:
            memo[id_] = node[1]
            return node[1]
        if id_ in self.active:
            raise self._cycle(id_, referrer)
        self.active[id_] = None
        try:
            value = self._build(id_, node)
        finally:
            del self.active[id_]
        memo[id_] = value
        return value

    def _build(self, id_: str, node: tuple[int, Any, Any]) -> Any:
        kind, raw, extra = node
        if kind == REFERENCE:
            return self.resolve(extra, id_)
        if kind == EXPRESSION:
            if not self.eval_expr:
                return raw
            code, refs = extra
            for ref in refs:
                self.resolve(ref, id_)
            try:
                return self.names.evaluate(code, self.memo)
            except LighterError:
                raise
            except Exception as e:
                raise _expression_error(raw, e, id_, self.graph.where(id_)) from e
        if kind == IMPORT:
            return self.imports.get(id_) if self.eval_expr else raw
        if kind == LIST:
            return [v for _, v in self._children(extra)]
        if kind == DICT or not self.instantiate:
            return dict(self._children(extra))
        return self._component(id_, raw, dict(extra))

    def _children(self, children: list[tuple[Any, str]]) -> list[tuple[Any, Any]]:
        # MONAI drops a component child that resolves to None (a disabled one) from its container.
        out = []
        for key, child_id in children:
            value = self.resolve(child_id)
            if value is not None or self.nodes[child_id][0] != COMPONENT:
                out.append((key, value))
        return out

    def _component(self, id_: str, raw: dict, children: dict[Any, str]) -> Any:
        if "_disabled_" in children and is_disabled(self.resolve(children["_disabled_"])):
            return None
        if "_requires_" in children:
            self.resolve(children["_requires_"])
        target = self.resolve(children["_target_"])
        name = target if isinstance(target, str) else getattr(target, "__qualname__", repr(target))
        if isinstance(target, str):
            if target not in self.targets:
                self.targets[target] = locate(target, id=id_, location=self.graph.where(children["_target_"]))
            target = self.targets[target]
        mode = self.resolve(children["_mode_"]) if "_mode_" in children else "default"
        kwargs = {}
        for key, child_id in children.items():
            if key in RESERVED_KEYS:
                continue
            value = self.resolve(child_id)
            if value is None and self.nodes[child_id][0] == COMPONENT:
                continue
            kwargs[key] = value
        if kwargs.pop("_debug_", False):  # MONAI's switch into the debugger
            mode = "debug"
        args: list = []
        if "_args_" in children:
            given = self.resolve(children["_args_"])
            if not isinstance(given, (list, tuple)):
                raise ArgumentError(
                    f"_args_ must be a list of positional arguments, not {type(given).__name__}",
                    id=id_,
                    location=self.graph.where(children["_args_"]),
                )
            args = list(given)

        def where(key: str):
            return self.graph.where(children[key]) if key in children else self.graph.where(id_)

        try:
            return call_target(target, str(name), mode, args, kwargs, id=id_, where=where)
        except LighterError as error:  # a constructor's own error: add where it was configured
            locate_error(error, self.graph.where, id_)
            raise

    def _missing(self, id_: str, referrer: str | None) -> MissingReferenceError:
        at = referrer if referrer is not None else id_
        text = f"reference '@{id_}' does not exist" if referrer is not None else f"id '{id_}' does not exist"
        return MissingReferenceError(
            text,
            id=at,
            location=self.graph.where(at) if referrer is not None else None,
            suggestion=did_you_mean(id_, self.nodes.keys()),
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


def _expression_error(text: str, error: Exception, id_: str, location: Any) -> ExpressionError:
    lines = text.strip().splitlines() or [text]
    shown = lines[0] if len(lines) == 1 and len(lines[0]) <= 120 else lines[0][:117] + "..."
    return ExpressionError(
        f"expression '{shown}' failed: {type(error).__name__}: {error}",
        id=id_,
        location=location,
        details=text if shown != text.strip() else None,
    )
