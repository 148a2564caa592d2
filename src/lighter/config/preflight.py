"""Reference and expression checks that build nothing, so they run before anything heavy.

Resolution finds a missing ``@id`` or a ``$`` expression that does not compile only when it
reaches them, which for the ``lighter`` command is after Lightning has loaded and the seed is
set. :func:`find_reference_problems` reads the parsed node table instead: no target is imported,
no ``$import`` runs and no expression is evaluated, and every problem is reported at once.
"""

from __future__ import annotations

from collections.abc import Iterable

from lighter.config.components import is_disabled
from lighter.config.expressions import compile_expression
from lighter.config.graph import COMPONENT, DICT, EXPRESSION, LIST, LITERAL, REFERENCE, Graph
from lighter.errors import ConfigError, ExpressionError, MissingReferenceError, ValidationError, did_you_mean

__all__ = ["find_reference_problems", "check_references"]


def find_reference_problems(graph: Graph, roots: Iterable[str] | None = None) -> list[ConfigError]:
    """Every ``@id`` (alone or in an expression) that names no id, and every expression that does
    not compile, each with the id and location of the value that holds it.

    Args:
        graph: The parsed config (:attr:`ConfigParser.graph`).
        roots: Check only what resolving these ids would reach (following references), as
            resolution is lazy: a broken value nothing uses never fails it. ``None``: the root.
    """
    nodes = graph.nodes
    todo = [r for r in ([""] if roots is None else roots) if r in nodes]
    seen: set[str] = set()
    problems: list[ConfigError] = []
    while todo:  # a work stack: reference chains may be long
        id_ = todo.pop()
        if id_ in seen:
            continue
        seen.add(id_)
        kind, raw, extra = nodes[id_]
        if kind == REFERENCE:
            refs = [extra]
        elif kind == EXPRESSION:
            code, refs = extra
            try:
                compile_expression(code)
            except SyntaxError as e:
                problems.append(_syntax_error(raw, e, id_, graph))
        elif kind in (COMPONENT, DICT, LIST):
            if kind == COMPONENT and _disabled(nodes, dict(extra).get("_disabled_")):
                continue  # resolution skips a disabled component's arguments
            todo += [child for _, child in extra]
            continue
        else:
            continue
        for ref in refs:
            if ref in nodes:
                todo.append(ref)
            else:
                problems.append(
                    MissingReferenceError(
                        f"reference '@{ref}' does not exist",
                        id=id_,
                        location=graph.where(id_),
                        suggestion=did_you_mean(ref, nodes.keys()),
                    )
                )
    order = {id_: i for i, id_ in enumerate(nodes)}
    return sorted(problems, key=lambda p: order[p.id])  # config order, whatever the walk's


def _disabled(nodes: dict, flag_id: str | None) -> bool:
    if flag_id is None or nodes[flag_id][0] != LITERAL:
        return False  # an expression flag counts as enabled here
    return is_disabled(nodes[flag_id][1])


def _syntax_error(raw: str, error: SyntaxError, id_: str, graph: Graph) -> ExpressionError:
    # Worded as resolution words it, so the message does not depend on when it is found.
    lines = raw.strip().splitlines() or [raw]
    shown = lines[0] if len(lines) == 1 and len(lines[0]) <= 120 else lines[0][:117] + "..."
    return ExpressionError(
        f"expression '{shown}' failed: SyntaxError: {error}",
        id=id_,
        location=graph.where(id_),
        details=raw if shown != raw.strip() else None,
    )


def check_references(graph: Graph, roots: Iterable[str] | None = None) -> None:
    """Raise every problem :func:`find_reference_problems` finds, at once.

    Raises:
        MissingReferenceError: The only problem is one missing reference.
        ExpressionError: The only problem is one expression that does not compile.
        ValidationError: Several problems (``errors`` lists them).
    """
    problems = find_reference_problems(graph, roots)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise ValidationError(problems)
