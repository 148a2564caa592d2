"""One wording per config problem, shared by resolution, the pre-flight and ``lighter check``.

A mistake reads the same whoever finds it first: ``lighter fit`` while resolving, the cheap
reference check every command runs before importing anything, or ``lighter check``'s whole-graph
pass. Each function here builds the error for one kind of problem; nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Iterable

from lighter.errors import ExpressionError, Location, MissingReferenceError, did_you_mean

__all__ = ["expression_error", "missing_reference", "suggest_id", "short_text"]

_SHOWN = 120  # characters of an expression quoted in a message's first line
_DETAILS = 2_000  # characters of it repeated below the message (a 100 kB expression is not echoed)


def short_text(text: str) -> str:
    """The first line of ``text``, cut to fit a message's first line."""
    lines = text.strip().splitlines() or [text]
    return lines[0] if len(lines) == 1 and len(lines[0]) <= _SHOWN else lines[0][: _SHOWN - 3] + "..."


def expression_error(
    text: str, error: BaseException, id_: str | None, location: Location | None
) -> ExpressionError:
    """The error for expression ``text`` (at ``id_``) that failed to compile or run with ``error``."""
    shown = short_text(text)
    details = None
    if shown != text.strip():
        whole = text.strip()
        details = whole if len(whole) <= _DETAILS else f"{whole[:_DETAILS]}... ({len(whole):,} characters)"
    return ExpressionError(
        f"expression '{shown}' failed: {type(error).__name__}: {error}",
        id=id_,
        location=location,
        details=details,
    )


def suggest_id(target: str, known: Iterable[str]) -> str | None:
    """A did-you-mean for a missing id: the closest existing id, else a sibling named by its initials.

    ``vars#learning_rate`` -> ``vars#lr`` is a common shorthand that string similarity misses.
    """
    known = known if isinstance(known, set | frozenset | dict) else set(known)
    close = did_you_mean(target, known)
    if close:
        return close
    parent, _, key = target.rpartition("#")
    initials = "".join(word[:1] for word in key.split("_") if word)
    guess = f"{parent}#{initials}" if parent else initials
    return f"did you mean '{guess}'?" if len(initials) > 1 and guess in known else None


def missing_reference(
    target: str, referrer: str, location: Location | None, known: Iterable[str]
) -> MissingReferenceError:
    """The error for ``@target`` written at ``referrer`` when no such id exists."""
    return MissingReferenceError(
        f"reference '@{target}' does not exist",
        id=referrer,
        location=location,
        suggestion=suggest_id(target, known),
    )
