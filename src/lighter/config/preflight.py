"""Checks that build and import nothing, so every command runs them before anything heavy.

Resolution finds a missing ``@id``, a ``$`` expression that does not compile or a reference cycle
only when it reaches them, which for the ``lighter`` command is after Lightning has loaded and the
seed is set. :func:`find_reference_problems` reads the parsed node table instead: no target is
imported, no ``$import`` runs and no expression is evaluated, and every problem is reported at
once, in the words ``lighter check`` uses (both are :mod:`lighter.config.static_check`).
"""

from __future__ import annotations

from collections.abc import Iterable

from lighter.config.graph import Graph
from lighter.config.static_check import find_unimported_problems
from lighter.errors import LighterError, ValidationError

__all__ = ["find_reference_problems", "check_references"]


def find_reference_problems(graph: Graph, roots: Iterable[str] | None = None) -> list[LighterError]:
    """Every ``@id`` (alone or in an expression) that names no id, every expression that does not
    compile, and every reference cycle, each with the id and location of the value that holds it.

    Args:
        graph: The parsed config (:attr:`ConfigParser.graph`).
        roots: Check only what resolving these ids would reach (following references), as
            resolution is lazy: a broken value nothing uses never fails it. ``None``: the root.
    """
    return find_unimported_problems(graph, [""] if roots is None else roots)


def check_references(graph: Graph, roots: Iterable[str] | None = None) -> None:
    """Raise every problem :func:`find_reference_problems` finds, at once.

    Raises:
        MissingReferenceError: The only problem is one missing reference.
        ExpressionError: The only problem is one expression that does not compile.
        CircularReferenceError: The only problem is one reference cycle.
        ValidationError: Several problems (``errors`` lists them).
    """
    problems = find_reference_problems(graph, roots)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise ValidationError(problems)
