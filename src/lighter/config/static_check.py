"""Check a whole parsed config without building anything, and report every problem at once.

One pass over the node table (:mod:`.graph`) finds what resolution would trip over: a
``_target_`` that does not import (with the closest name), arguments its signature does not
take or misses, literal values that do not fit its annotations (:mod:`.typecheck`), ``@``/``%``
references to ids that do not exist, ``$`` expressions that do not compile or name something that
is not defined, ``$import`` statements that fail, and reference cycles. Targets are imported
(that is how their signatures are read) but nothing is called, so no dataset, model or Trainer
is constructed. Values that come from ``@``/``$``/``%`` are not known yet and are checked when
the component is built.
"""

from __future__ import annotations

import ast
import builtins
import importlib.util
from collections.abc import Iterable
from typing import Any

from lighter.config.annotation import UNKNOWN
from lighter.config.components import MODES, RESERVED_KEYS, argument_problems, is_disabled, locate
from lighter.config.expressions import Names, bound_names, compile_expression
from lighter.config.graph import COMPONENT, DICT, EXPRESSION, LIST, LITERAL, REFERENCE, Graph
from lighter.config.ids import LOCAL_REFS
from lighter.config.problems import expression_error, missing_reference, short_text
from lighter.config.typecheck import type_problems
from lighter.errors import (
    ArgumentError,
    CircularReferenceError,
    ConfigError,
    ExpressionError,
    LighterError,
    Location,
    did_you_mean,
)

__all__ = ["find_graph_problems", "find_unimported_problems"]


def find_graph_problems(graph: Graph, names: Names, roots: Iterable[str] | None = None) -> list[LighterError]:
    """Return every problem of a parsed config that can be seen without building it, in config order.

    Args:
        graph: The parsed config.
        names: The names its ``$`` expressions see (copied; imports run here do not leak out).
        roots: Check only what resolving these ids reaches, as resolution is lazy (a run checks
            what its stage builds); ``None``: every id.
    """
    return _Preflight(graph, names.copy(), roots).run()


def find_unimported_problems(graph: Graph, roots: Iterable[str] | None = None) -> list[LighterError]:
    """The part of :func:`find_graph_problems` that imports nothing, in the same words.

    Missing references, expressions that do not compile, and reference cycles: what every command
    reports before torch, Lightning or the project is imported. Targets, arguments, types and the
    names expressions use need imports and are left to :func:`find_graph_problems`.
    """
    return _Preflight(graph, None, roots).run()


class _Preflight:
    def __init__(self, graph: Graph, names: Names | None, roots: Iterable[str] | None) -> None:
        self.graph = graph
        self.nodes = graph.nodes
        self.names = names  # None: check only what needs no import
        self.roots = None if roots is None else list(roots)
        self.problems: list[LighterError] = []
        self.targets: dict[str, Any] = {}
        self.disabled = {
            id_
            for id_, (kind, _, children) in self.nodes.items()
            if kind == COMPONENT and _literal_flag(self.nodes, dict(children).get("_disabled_"))
        }

    def run(self) -> list[LighterError]:
        known = self._known_names() if self.names is not None else None
        reached = None if self.roots is None else self._reached(self.roots)
        for id_, node in self.nodes.items():
            if self._skipped(id_) or reached is not None and id_ not in reached:
                continue
            kind = node[0]
            if kind == REFERENCE:
                self._reference(node[2], id_)
            elif kind == EXPRESSION:
                self._expression(id_, node, known)
            elif kind == COMPONENT and self.names is not None:
                self._component(id_, dict(node[2]))
        self._cycles()
        return self.problems

    def _reached(self, roots: Iterable[str]) -> set[str]:
        """The ids resolving ``roots`` would visit (a work stack: chains may be long)."""
        todo = [root for root in roots if root in self.nodes]
        seen: set[str] = set()
        while todo:
            id_ = todo.pop()
            if id_ not in seen:
                seen.add(id_)
                todo += self._dependencies(id_)
        return seen

    def _skipped(self, id_: str) -> bool:
        """Inside a disabled component (never built), but not its ``_disabled_`` flag itself."""
        if not self.disabled:
            return False
        parent = id_
        while "#" in parent:
            parent = parent.rpartition("#")[0]
            if parent in self.disabled:
                return True
        return "" in self.disabled and id_ != ""

    # --- references and expressions -----------------------------------------------------------------

    def _reference(self, target: str, referrer: str) -> None:
        if target not in self.nodes:
            self.problems.append(
                missing_reference(target, referrer, self.graph.where(referrer), self.nodes.keys())
            )

    def _known_names(self) -> set[str]:
        known = set(dir(builtins)) | set(self.names.loaded) | {LOCAL_REFS}
        # A default module that is not installed stays undefined, as when the expression runs.
        known |= {name for name, module in self.names.pending.items() if _installed(module)}
        for id_ in self.graph.imports:
            text, code = self.nodes[id_][1], self.nodes[id_][2]
            try:
                self.names.run_import(code)
            except Exception as e:  # noqa: BLE001 - any failure of a config import is reported
                self.problems.append(
                    ExpressionError(
                        f"'{text}' failed: {type(e).__name__}: {e}", id=id_, location=self.graph.where(id_)
                    )
                )
            known |= set(bound_names(code))
        return known

    def _expression(self, id_: str, node: tuple[int, Any, Any], known: set[str] | None) -> None:
        text, (code, refs) = node[1], node[2]
        where = self.graph.where(id_)
        try:  # compiled as resolution compiles it, so the message is the same whoever finds it
            compile_expression(code)
            tree = ast.parse(code.strip(), mode="eval")
        except SyntaxError as e:
            self.problems.append(expression_error(text, e, id_, where))
            return
        for ref in refs:
            self._reference(ref, id_)
        if known is None:
            return
        for name in _free_names(tree):
            if name not in known:
                self.problems.append(
                    ExpressionError(
                        f"expression '{short_text(text)}' uses '{name}', which is not defined",
                        id=id_,
                        location=where,
                        suggestion=did_you_mean(name, sorted(known - set(dir(builtins))))
                        or "import it with $import, or in _requires_",
                    )
                )

    # --- components -----------------------------------------------------------------------------------

    def _component(self, id_: str, children: dict[Any, str]) -> None:
        if id_ in self.disabled:
            return
        target_node = self.nodes[children["_target_"]]
        if target_node[0] != LITERAL:
            return  # built from `@`/`$`: known only once built
        path = target_node[1]
        where_target = self.graph.where(children["_target_"])
        if not isinstance(path, str) or not path.strip():
            self.problems.append(
                ConfigError(
                    f"_target_ must be a dotted import path, got {path!r}", id=id_, location=where_target
                )
            )
            return
        try:
            if path not in self.targets:
                self.targets[path] = locate(path, id=id_, location=where_target)
            target = self.targets[path]
        except LighterError as error:
            self.problems.append(error)
            return
        mode = self._mode(id_, children)
        if not callable(target) or mode is None:
            return
        kwargs = {
            key: self._value(child_id)
            for key, child_id in children.items()
            if key not in RESERVED_KEYS and key != "_debug_" and child_id not in self.disabled
        }
        args = self._positional(id_, children)

        def where(key: str) -> Location | None:
            return self.graph.where(f"{id_}#{key}" if key and id_ else key or id_)

        name = path.strip()
        self.problems += argument_problems(
            target, name, args, kwargs, partial=mode == "callable", id=id_, where=where
        )
        self.problems += type_problems(target, args or [], kwargs, id=id_, where=where)

    def _mode(self, id_: str, children: dict[Any, str]) -> str | None:
        """The literal ``_mode_`` (``"default"`` when absent), ``None`` when it is wrong or not known."""
        if "_mode_" not in children:
            return "default"
        node = self.nodes[children["_mode_"]]
        if node[0] != LITERAL:
            return None
        mode = str(node[1]).strip()
        if mode not in MODES:
            self.problems.append(
                ConfigError(
                    f"unknown _mode_ '{mode}' (one of {', '.join(MODES)})",
                    id=id_,
                    location=self.graph.where(children["_mode_"]),
                    suggestion=did_you_mean(mode, MODES),
                )
            )
            return None
        return mode

    def _positional(self, id_: str, children: dict[Any, str]) -> list | None:
        if "_args_" not in children:
            return []
        node = self.nodes[children["_args_"]]
        if node[0] == LIST:
            return [self._value(child_id) for _, child_id in node[2]]
        if node[0] == LITERAL:
            self.problems.append(
                ArgumentError(
                    f"_args_ must be a list of positional arguments, not {type(node[1]).__name__}",
                    id=id_,
                    location=self.graph.where(children["_args_"]),
                )
            )
        return None

    def _value(self, id_: str, seen: frozenset[str] = frozenset()) -> Any:
        """The value at ``id_`` as far as it is known before building (else :data:`UNKNOWN`).

        An ``@`` reference to a plain value is that value (``max_epochs: "@vars#epochs"`` with
        ``--vars#epochs=ten`` is as wrong as ``max_epochs: ten``); a cycle is reported elsewhere.
        """
        kind, raw, extra = self.nodes[id_]
        if kind == LITERAL:
            return raw
        if kind == LIST:
            return [self._value(child, seen) for _, child in extra]
        if kind == DICT:
            return {key: self._value(child, seen) for key, child in extra}
        if kind == REFERENCE and extra in self.nodes and extra not in seen and extra not in self.disabled:
            return self._value(extra, seen | {id_})
        return UNKNOWN

    # --- cycles -----------------------------------------------------------------------------------------

    def _dependencies(self, id_: str) -> list[str]:
        kind, _, extra = self.nodes[id_]
        if kind == LITERAL:
            return []
        if kind == REFERENCE:
            return [extra] if extra in self.nodes else []
        if kind == EXPRESSION:
            return [ref for ref in extra[1] if ref in self.nodes]
        if kind == COMPONENT and id_ in self.disabled:
            return []
        if kind in (COMPONENT, DICT, LIST):
            return [child for _, child in extra]
        return []

    def _cycles(self) -> None:
        """Find reference cycles with an explicit stack (configs can nest deeper than recursion allows)."""
        done: set[str] = set()
        nodes = self.nodes
        # Config order, never a set's order: which member of a cycle is reported first must not
        # depend on the interpreter's string hashing (PYTHONHASHSEED).
        reached = None if self.roots is None else self._reached(self.roots)
        for root in nodes:
            if root in done or nodes[root][0] == LITERAL or reached is not None and root not in reached:
                continue
            path: list[str] = [root]
            on_path = {root}
            stack = [iter(self._dependencies(root))]
            while stack:
                step = next(stack[-1], None)
                if step is None:
                    stack.pop()
                    finished = path.pop()
                    on_path.discard(finished)
                    done.add(finished)
                    continue
                if step in on_path:
                    cycle = [*path[path.index(step) :], step]
                    self._cycle(cycle)
                    continue
                if step in done or nodes[step][0] == LITERAL:
                    continue
                path.append(step)
                on_path.add(step)
                stack.append(iter(self._dependencies(step)))

    def _cycle(self, cycle: list[str]) -> None:
        shown = [step or "<root>" for step in cycle]
        at = cycle[-2]
        steps = "\n".join(
            f"{name}  ({self.graph.where(step) or 'no location'})"
            for name, step in zip(shown[:-1], cycle[:-1], strict=True)
        )
        self.problems.append(
            CircularReferenceError(
                f"circular reference: {' -> '.join(shown)}",
                id=at or "<root>",
                location=self.graph.where(at),
                details=steps,
            )
        )


def _literal_flag(nodes: dict[str, Any], id_: str | None) -> bool:
    if id_ is None:
        return False
    kind, raw, _ = nodes[id_]
    return kind == LITERAL and is_disabled(raw)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _free_names(tree: ast.AST) -> list[str]:
    """Global names an expression reads: loaded names not bound inside it (lambda args, loop targets)."""
    loaded: list[str] = []
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                loaded.append(node.id)
            else:
                bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return [name for name in dict.fromkeys(loaded) if name not in bound]
