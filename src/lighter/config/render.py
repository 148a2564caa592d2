"""Render a config as YAML with a comment after each value saying where it was written.

``lighter show`` prints it, and a run's saved ``config.yaml`` can carry the same comments, so a
run folder says where every value came from::

    trainer:  # exp.yaml:1
      max_epochs: 3  # command line
      precision: bf16-mixed  # second.yaml:2

The text is valid YAML that reads back as the same config (``yaml.safe_load(text) == config``),
under YAML 1.1 and 1.2 readers alike: strings that one of them would read as a number, a
boolean or null are quoted. Nothing here imports torch or Lightning.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import yaml

from lighter.config.ids import join_id
from lighter.errors import Location

__all__ = ["render_config", "render_scalar", "location_text"]

# Plain strings that a YAML 1.1 or 1.2 reader could take for something other than a string.
_AMBIGUOUS = re.compile(
    r"^(?:[-+]?[.0-9].*|[-+]?\.(?:inf|nan)|~|null|true|false|yes|no|on|off|y|n|<<|=)$", re.IGNORECASE
)
_BREAKS = "\x85\u2028\u2029"
_DUMP_WIDTH = 1 << 30  # never fold a long scalar over several lines


def location_text(where: Location | str | None) -> str | None:
    """``exp.yaml:12`` (no column), ``command line``, or ``None`` when unknown."""
    if where is None:
        return None
    if isinstance(where, Location):
        return f"{where.file}:{where.line}" if where.line is not None else where.file
    return str(where)


def render_scalar(value: Any) -> str:
    """One value as a single-line YAML scalar (or ``{}``/``[]``) that reads back as ``value``."""
    if isinstance(value, str):
        if not value.isprintable() or any(c in _BREAKS for c in value):
            return _double_quoted(value)  # YAML reads \x85 or \u2028 as a line break: escape them
        text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=_DUMP_WIDTH)
        text = text.removesuffix("\n...\n").removesuffix("\n")
        if "\n" in text or (text[:1] not in ("'", '"') and _AMBIGUOUS.match(value)):
            return _double_quoted(value)
        return text
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=_DUMP_WIDTH)
    return text.removesuffix("\n...\n").strip()


def _double_quoted(value: str) -> str:
    """A YAML double-quoted scalar, ASCII only (``\\x``, ``\\u`` and ``\\U`` escapes)."""
    out = []
    for char in value:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= code < 0x7F:
            out.append(char)
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def render_config(
    config: Any,
    locate: Callable[[str], Location | str | None],
    note: Callable[[str], str | None] | None = None,
) -> str:
    """Render ``config`` as YAML, each value followed by ``# <where it was written>``.

    Args:
        config: A config of dicts, lists and scalars (not modified).
        locate: Where the value at an id was written (``ConfigParser.location``).
        note: Optional extra text for an id's comment (e.g. what a reference stands for).

    Returns:
        The YAML text, ending with a newline.
    """
    lines: list[str] = []
    if isinstance(config, dict | list) and config:
        _block(config, "", 0, locate, note or _no_note, lines)
    else:
        lines.append(_inline(config))
    return "\n".join(lines) + "\n"


def _no_note(_: str) -> None:
    return None


def _comment(id_: str, locate: Callable, note: Callable) -> str:
    parts = [location_text(locate(id_)), note(id_)]
    text = "  ".join(" ".join(p.split()) for p in parts if p)  # a comment cannot span lines
    return f"  # {text}" if text else ""


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return render_scalar(value)


def _block(
    value: dict | list, id_: str, indent: int, locate: Callable, note: Callable, lines: list[str]
) -> None:
    pad = " " * indent
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        child = join_id(id_, key)
        nested = isinstance(item, dict | list) and bool(item)
        if isinstance(value, dict):
            head = f"{pad}{render_scalar(key)}:"
            if nested:
                lines.append(head + _comment(child, locate, note))
                _block(item, child, indent + 2, locate, note, lines)
            else:
                lines.append(f"{head} {_inline(item)}{_comment(child, locate, note)}")
            continue
        if not nested:
            lines.append(f"{pad}- {_inline(item)}{_comment(child, locate, note)}")
            continue
        # A mapping or list inside a list starts on the dash's line ("- _target_: ..."); its own
        # location is that of its first entry, which carries the comment.
        inner: list[str] = []
        _block(item, child, indent + 2, locate, note, inner)
        inner[0] = f"{pad}- {inner[0][indent + 2 :]}"
        lines.extend(inner)
