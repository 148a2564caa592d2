"""Config ids and the reference syntax inside config strings, as pure functions.

An id names a place in a nested config: ``"system#model#0"`` (``"::"`` is accepted as a synonym
of ``"#"``); ``""`` is the root. Strings in a config may refer to other ids:

- ``"@a#b"``: the resolved object at ``a#b`` (only when it is the whole string, or inside ``$``),
- ``"$expr"``: a Python expression, where every ``@id`` stands for that id's resolved object,
- ``"%a#b"`` / ``"%file.yaml#a#b"``: a copy of the raw config at ``a#b``,
- ``"@#x"``, ``"@##x"``, ``"%#x"``: relative ids (sibling ``x``; each extra ``#`` goes one level up).

The reference pattern is MONAI's (``@`` followed by word characters and separators), so strings
mean the same thing here as in a MONAI bundle.
"""

from __future__ import annotations

import re
from collections.abc import Collection

__all__ = [
    "SEP",
    "REF",
    "EXPR",
    "MACRO",
    "LOCAL_REFS",
    "normalize_id",
    "split_id",
    "join_id",
    "parent_id",
    "ancestors",
    "is_expression",
    "is_macro",
    "whole_reference",
    "expression_references",
    "substitute_references",
    "resolve_relative_ids",
    "split_path_id",
]

SEP = "#"
REF = "@"
EXPR = "$"
MACRO = "%"
# Name of the mapping through which a `$` expression reads the objects its `@id`s stand for.
LOCAL_REFS = "__local_refs"

_REF_PATTERN = re.compile(r"@\w*(?:(?:#|::)\w*)*")
_RELATIVE_PATTERN = re.compile(r"([@%])((?:#|::)+)")
_FILE_PATTERN = re.compile(r"^(.*?\.(?:json|yaml|yml))(?=#|$)", re.IGNORECASE)


def normalize_id(id_: str | int) -> str:
    """Return ``id_`` as a string with ``"::"`` separators turned into ``"#"``."""
    return str(id_).replace("::", SEP)


def split_id(id_: str | int) -> list[str]:
    """Split an id into its keys; the root ``""`` has no keys."""
    text = normalize_id(id_)
    return text.split(SEP) if text else []


def join_id(parent: str, key: str | int) -> str:
    """Return the id of ``key`` inside ``parent``."""
    return f"{parent}{SEP}{key}" if parent else str(key)


def parent_id(id_: str) -> str:
    """Return the id one level up (the root's parent is the root)."""
    return id_.rpartition(SEP)[0]


def ancestors(id_: str) -> list[str]:
    """Return ``id_`` and every id above it, innermost first, ending with the root ``""``."""
    out = [id_]
    while id_:
        id_ = parent_id(id_)
        out.append(id_)
    return out


def is_expression(value: object) -> bool:
    """Whether ``value`` is a ``$`` expression string."""
    return isinstance(value, str) and value.startswith(EXPR)


def is_macro(value: object) -> bool:
    """Whether ``value`` is a ``%`` macro string."""
    return isinstance(value, str) and value.startswith(MACRO)


def whole_reference(value: str) -> str | None:
    """Return the id that a plain string refers to when it is exactly ``@id``, else ``None``."""
    if not value.startswith(REF):
        return None
    match = _REF_PATTERN.fullmatch(value)
    return normalize_id(match.group()[1:]) if match else None


def reference_counts(value: str) -> dict[str, int]:
    """How often each id is referred to in ``value``: every ``@id`` of a ``$`` expression, or the one
    id of a string that is exactly ``@id`` (an ``@`` elsewhere in plain text is not a reference)."""
    if is_expression(value):
        found = [normalize_id(m[1:]) for m in _REF_PATTERN.findall(value)]
    else:
        whole = whole_reference(value)
        found = [] if whole is None else [whole]
    counts: dict[str, int] = {}
    for id_ in found:
        counts[id_] = counts.get(id_, 0) + 1
    return counts


def expression_references(expr: str) -> list[str]:
    """Return the ids referred to by ``@id`` inside an expression, in order, without repeats."""
    if REF not in expr:
        return []
    return list(dict.fromkeys(normalize_id(m[1:]) for m in _REF_PATTERN.findall(expr)))


def substitute_references(expr: str, keep: Collection[str] = ()) -> str:
    """Return the Python code of ``expr`` (without ``$``) where ``@id`` reads ``__local_refs['id']``.

    Args:
        expr: The expression, with or without its ``$``.
        keep: Ids whose ``@id`` stays as written (MONAI's ``allow_missing_reference`` keeps the
            text of references that do not exist).
    """
    code = expr[len(EXPR) :] if expr.startswith(EXPR) else expr
    if REF not in code:
        return code

    def substitute(match: re.Match) -> str:
        id_ = normalize_id(match.group()[1:])
        return match.group() if id_ in keep else f"{LOCAL_REFS}[{id_!r}]"

    return _REF_PATTERN.sub(substitute, code)


def resolve_relative_ids(value: str, current: str) -> str:
    """Turn the relative ids in ``value`` (written at id ``current``) into absolute ones.

    ``@#x`` at ``a#b`` is ``@a#x``; each extra ``#`` goes one level further up.

    Raises:
        ValueError: A relative id climbs above the root (the caller adds id and location).
    """
    if "@#" not in value and "%#" not in value and "::" not in value:
        return value
    keys = current.split(SEP)  # MONAI counts the root as one level too: "" -> [""]

    def absolute(match: re.Match) -> str:
        symbol, seps = match.group(1), match.group(2)
        levels = seps.count(SEP) + seps.count("::")
        if levels > len(keys):
            raise ValueError(
                f"relative id in '{value}' goes {levels} levels up from '{current}', above the root of the config"
            )
        if levels == len(keys):
            return symbol
        return symbol + SEP.join(keys[:-levels]) + SEP

    return _RELATIVE_PATTERN.sub(absolute, value)


def split_path_id(src: str) -> tuple[str, str]:
    """Split a macro body ``file.yaml#a#b`` into ``("file.yaml", "a#b")``; ``("", id)`` without a file."""
    src = normalize_id(src)
    match = _FILE_PATTERN.match(src)
    if not match:
        return "", src
    path = match.group(1)
    return path, src[len(path) + 1 :]
