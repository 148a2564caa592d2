"""Load YAML/JSON config files, recording where every value was written.

:func:`load_file` returns the file's content and a table ``id -> Location`` covering every value
in it (ids as written in that file, before any merge). YAML is composed into nodes with PyYAML's
C parser when available, so that each value keeps its line and column, and is then read with the
YAML 1.2 core schema: ``1e-3`` is a float, ``yes``/``on`` stay strings, ``010`` is the integer 10
(PyYAML alone follows YAML 1.1, where all three mean something else). JSON content comes from the
``json`` module and its positions from the same node walk. :func:`load_value` reads one
command-line value the same way.

Reading is bounded so that a hostile or broken file gives an error, never a crash or a hang:
nesting deeper than :data:`MAX_DEPTH`, aliases that expand to more than :data:`MAX_ALIAS_VALUES`
values ("billion laughs"), recursive aliases, tags outside YAML's core schema, keys that are lists
or mappings, integers longer than Python reads, and text that is not UTF-8 (UTF-16/32 with a byte
order mark is decoded).
"""

from __future__ import annotations

import codecs
import json
import math
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Any

import yaml

from lighter.config.ids import join_id
from lighter.errors import (
    ConfigFileNotFoundError,
    ConfigReadError,
    ConfigSyntaxError,
    DuplicateKeyError,
    Location,
    did_you_mean,
)

__all__ = [
    "SUFFIXES",
    "MAX_DEPTH",
    "short_id",
    "MAX_ALIAS_VALUES",
    "Locations",
    "CoreLoader",
    "load_file",
    "load_text",
    "load_value",
]

SUFFIXES = (".yaml", ".yml", ".json")
Locations = dict[str, Location]

# The rest of the config engine walks configs recursively; 200 levels is far beyond any real config
# and far below Python's recursion limit, so no later step can fail on depth.
MAX_DEPTH = 200
# Values an alias (or a `<<` merge) may add beyond what is written; bounds an alias bomb to a few
# tens of MB while leaving room for any honest use of anchors.
MAX_ALIAS_VALUES = 100_000

_CORE = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_CORE + name for name in ("str", "int", "float", "bool", "null"))
_MAP, _SEQ, _MERGE = _CORE + "map", _CORE + "seq", _CORE + "merge"
_SCALAR_TAGS = frozenset({_STR, _INT, _FLOAT, _BOOL, _NULL, _MERGE})

# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution).
_NULL_RE = re.compile(r"(?:~|null|Null|NULL|)\Z")
_BOOL_RE = re.compile(r"(?:true|True|TRUE|false|False|FALSE)\Z")
_INT_RE = re.compile(r"(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)\Z")
_FLOAT_RE = re.compile(
    r"(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))\Z"
)

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE, whose BOM is its prefix
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class CoreLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's (C) safe loader with YAML 1.2 core-schema scalars instead of YAML 1.1's.

    Only the implicit resolvers change: null, bool, int and float follow YAML 1.2; timestamps and
    the ``=`` value key of YAML 1.1 are plain strings; ``<<`` merge keys are kept (MONAI configs use
    them). Values are built by :func:`load_text`, which also checks tags and bounds.
    """

    yaml_implicit_resolvers: dict = {}  # noqa: RUF012 - PyYAML's class-level table, replaced whole


for _tag, _regexp, _first in (
    (_NULL, _NULL_RE, ["~", "n", "N", ""]),
    (_BOOL, _BOOL_RE, list("tTfF")),
    (_INT, _INT_RE, list("-+0123456789")),  # before float: "10" matches both
    (_FLOAT, _FLOAT_RE, list("-+0123456789.")),
    (_MERGE, re.compile(r"<<\Z"), ["<"]),
):
    CoreLoader.add_implicit_resolver(_tag, _regexp, _first)


def load_file(path: str | Path) -> tuple[Any, Locations]:
    """Read one config file.

    Args:
        path: A ``.yaml``, ``.yml`` or ``.json`` file.

    Returns:
        The content (an empty file gives ``{}``) and the location of every id in it.

    Raises:
        ConfigFileNotFoundError: The file does not exist (with the closest config file nearby).
        ConfigReadError: The file exists but cannot be read (a folder, permissions, a symlink loop).
        ConfigSyntaxError: The file does not parse, is not UTF-8 text, breaks a bound, or its
            suffix is not a config suffix.
    """
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise ConfigSyntaxError(
            f"unsupported config file '{path}' (expected one of {', '.join(SUFFIXES)})", location=str(path)
        )
    text = _decode(_read(path), str(path))
    return load_text(text, str(path), as_json=path.suffix.lower() == ".json")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except IsADirectoryError as e:
        inside = (
            sorted(p.name for p in path.iterdir() if p.suffix.lower() in SUFFIXES) if path.is_dir() else []
        )
        raise ConfigReadError(
            f"cannot read config file '{path}': it is a folder",
            suggestion=f"did you mean '{path / inside[0]}'?" if inside else None,
        ) from e
    except (FileNotFoundError, NotADirectoryError) as e:
        siblings = []
        if path.parent.is_dir():
            siblings = [p.name for p in path.parent.iterdir() if p.suffix.lower() in SUFFIXES]
        raise ConfigFileNotFoundError(
            f"config file not found: '{path}'", suggestion=did_you_mean(path.name, siblings, cutoff=0.8)
        ) from e
    except OSError as e:
        from lighter.atomic import os_reason

        raise ConfigReadError(f"cannot read config file '{path}': {os_reason(e)}") from e


def _decode(raw: bytes, filename: str) -> str:
    """UTF-8 text; UTF-16/32 only with a byte order mark (YAML allows both)."""
    encoding = next((name for bom, name in _BOMS if raw.startswith(bom)), "utf-8")
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as e:
        before = raw[: e.start].decode(encoding, errors="replace")
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        label = "UTF-8" if encoding == "utf-8" else encoding.upper()
        raise ConfigSyntaxError(
            f"the file is not {label} text: byte 0x{raw[e.start]:02x} cannot be decoded",
            location=Location(filename, line, column),
            suggestion="save it as UTF-8",
        ) from e


def load_text(text: str, filename: str, as_json: bool = False) -> tuple[Any, Locations]:
    """Parse config text; ``filename`` labels the locations. See :func:`load_file`."""
    if as_json:
        return _load_json(text, filename)
    return _compose(text, filename)


def load_value(text: str) -> Any:
    """Read one command-line value (``3``, ``1e-3``, ``[1, 2]``, ``null`` …) as :func:`load_text` would.

    Raises:
        ConfigSyntaxError: The value does not parse or breaks a bound (the location is the
            ``command line`` with the column in ``text``).
    """
    return _compose(text, "command line", empty=None)[0]


def _load_json(text: str, filename: str) -> tuple[Any, Locations]:
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as e:
        raise ConfigSyntaxError(e.msg, location=Location(filename, e.lineno, e.colno)) from e
    except RecursionError as e:
        raise ConfigSyntaxError(f"nesting deeper than {MAX_DEPTH} levels", location=Location(filename)) from e
    except ValueError as e:  # an integer longer than Python reads
        raise ConfigSyntaxError(str(e), location=Location(filename)) from e
    try:  # positions only: JSON is YAML, so the node walk can find them
        _, locations = _compose(text, filename)
    except DuplicateKeyError:
        raise
    except ConfigSyntaxError:
        locations = {"": Location(filename, 1, 1)}
    _check_json_depth(data, filename, locations)
    return data, locations


def _check_json_depth(data: Any, filename: str, locations: Locations) -> None:
    stack = [(data, "", 0)]  # a work stack: the data may be deeper than Python's recursion limit
    while stack:
        value, id_, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ConfigSyntaxError(
                f"nesting deeper than {MAX_DEPTH} levels",
                id=short_id(id_),
                location=locations.get(id_, Location(filename)),
            )
        if isinstance(value, dict):
            stack += [(v, join_id(id_, k), depth + 1) for k, v in value.items()]
        elif isinstance(value, list):
            stack += [(v, join_id(id_, i), depth + 1) for i, v in enumerate(value)]


def _compose(text: str, filename: str, empty: Any = ...) -> tuple[Any, Locations]:
    loader = CoreLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return ({} if empty is ... else empty), {"": Location(filename, 1, 1)}
        locations: Locations = {}
        data = _Builder(filename, locations).build(node, "", node, 0)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = Location(filename, mark.line + 1, mark.column + 1) if mark else Location(filename)
        message = str(e.problem or e.context or "invalid YAML")
        if e.problem and e.context:
            message = f"{e.problem} ({e.context})"
        raise ConfigSyntaxError(message, location=where) from e
    except yaml.YAMLError as e:
        raise ConfigSyntaxError(str(e).splitlines()[0], location=Location(filename)) from e
    finally:
        loader.dispose()
    return data, locations


def _duplicate(key: Any, where: Location) -> None:
    # MONAI's wording ("Duplicate key: `k`") so that scripts grepping for it keep working; its
    # switch is read here, when a file is loaded, so setting it later in a process still counts.
    if os.environ.get("MONAI_FAIL_ON_DUPLICATE_CONFIG", "0") == "1":
        raise DuplicateKeyError(f"Duplicate key: `{key}`", location=where)
    warnings.warn(f"{where}: Duplicate key: `{key}` (the last one wins)", stacklevel=2)


def short_id(id_: str) -> str:
    """The first keys of a very deep id: the message must fit on one screen."""
    keys = id_.split("#")
    return id_ if len(keys) <= 6 else "#".join([*keys[:6], "..."])


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag


class _Builder:
    """Turns composed YAML nodes into Python values, recording each value's position.

    Aliases share nodes, so a node met again is an alias copy: those are counted against
    :data:`MAX_ALIAS_VALUES`, and a node met again *inside itself* is a recursive alias.
    """

    def __init__(self, filename: str, locations: Locations) -> None:
        self.filename = filename
        self.locations = locations
        self.seen: set[int] = set()
        self.open: set[int] = set()
        self.copies = 0

    def _at(self, node: Any) -> Location:
        mark = node.start_mark
        return Location(self.filename, mark.line + 1, mark.column + 1)

    def _error(self, message: str, id_: str, node: Any, suggestion: str | None = None) -> ConfigSyntaxError:
        return ConfigSyntaxError(message, id=id_ or None, location=self._at(node), suggestion=suggestion)

    def build(self, node: Any, id_: str, where: Any, depth: int) -> Any:
        # `where` is the node whose position names this id: the key for a mapping entry whose value
        # spans several lines (errors then point at `optimizer:`), else the value itself.
        self.locations[id_] = self._at(where)
        key = id(node)
        if key in self.seen:
            self.copies += 1
            if self.copies > MAX_ALIAS_VALUES:
                raise self._error(
                    f"aliases expand to more than {MAX_ALIAS_VALUES:,} values (an alias bomb?)", id_, where
                )
        else:
            self.seen.add(key)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, id_)
        if depth >= MAX_DEPTH:
            raise self._error(f"nesting deeper than {MAX_DEPTH} levels", short_id(id_), node)
        if key in self.open:
            raise self._error("recursive alias: a value that contains itself", id_, where)
        expected = _MAP if isinstance(node, yaml.MappingNode) else _SEQ
        if node.tag != expected:
            raise self._unsupported_tag(node, id_)
        self.open.add(key)
        try:
            if expected == _SEQ:
                return [
                    self.build(item, join_id(id_, i), item, depth + 1) for i, item in enumerate(node.value)
                ]
            out: dict[Any, Any] = {}
            explicit: set[Any] = set()
            for key_node, value_node, merged in self._pairs(node, id_):
                if not isinstance(key_node, yaml.ScalarNode):
                    kind = "list" if isinstance(key_node, yaml.SequenceNode) else "mapping"
                    raise self._error(
                        f"a key must be a plain value (a string or a number), not a {kind}",
                        id_,
                        key_node,
                        suggestion="quote it to use it as a string",
                    )
                name = self._scalar(key_node, id_)
                if not merged:
                    if name in explicit:
                        _duplicate(name, self._at(key_node))
                    explicit.add(name)
                elif name in explicit:
                    continue  # keys written in the mapping win over merged ones, wherever written
                scalar = isinstance(value_node, yaml.ScalarNode)
                out[name] = self.build(
                    value_node, join_id(id_, name), value_node if scalar else key_node, depth + 1
                )
            return out
        finally:
            self.open.discard(key)

    def _pairs(self, node: Any, id_: str) -> list[tuple[Any, Any, bool]]:
        """The mapping's ``(key, value, merged)`` pairs, ``<<`` merge keys expanded (YAML 1.1 order)."""
        if not any(k.tag == _MERGE for k, _ in node.value):
            return [(k, v, False) for k, v in node.value]
        merged: list[tuple[Any, Any, bool]] = []
        explicit: list[tuple[Any, Any, bool]] = []
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE:
                explicit.append((key_node, value_node, False))
                continue
            sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            # Earlier sources win: add them last so that they overwrite later ones.
            for source in reversed(sources):
                if not isinstance(source, yaml.MappingNode):
                    raise self._error("'<<' merges a mapping or a list of mappings", id_, source)
                if id(source) in self.open or source is node:
                    raise self._error("recursive alias: a value that contains itself", id_, source)
                opened = id(node) not in self.open
                self.open.add(id(node))
                try:
                    merged += [(k, v, True) for k, v, _ in self._pairs(source, id_)]
                finally:
                    if opened:
                        self.open.discard(id(node))
        return merged + explicit

    def _unsupported_tag(self, node: Any, id_: str) -> ConfigSyntaxError:
        return self._error(
            f"unsupported tag '{_tag_name(node.tag)}'",
            id_,
            node,
            suggestion="a config takes YAML's core tags only: !!str, !!int, !!float, !!bool, !!null, !!map, !!seq",
        )

    def _scalar(self, node: Any, id_: str) -> Any:
        tag, text = node.tag, node.value
        if tag == _STR or tag == _MERGE:
            return text
        if tag == _NULL:
            if not _NULL_RE.match(text):
                raise self._error(f"!!null needs null or ~, got '{text}'", id_, node)
            return None
        if tag == _BOOL:
            if not _BOOL_RE.match(text):
                raise self._error(f"!!bool needs true or false, got '{text}'", id_, node)
            return text.lower() == "true"
        if tag == _INT:
            if not _INT_RE.match(text):
                raise self._error(f"!!int needs an integer, got '{text}'", id_, node)
            return self._int(node, text, id_)
        if tag == _FLOAT:
            if not _FLOAT_RE.match(text):
                raise self._error(f"!!float needs a number, got '{text}'", id_, node)
            lowered = text.lower()
            if lowered.endswith((".inf", ".nan")):
                return math.nan if lowered == ".nan" else (-math.inf if text[0] == "-" else math.inf)
            return float(text)
        raise self._unsupported_tag(node, id_)

    def _int(self, node: Any, text: str, id_: str) -> int:
        if text.startswith(("0o", "0x")):
            return int(text[2:], 8 if text[1] == "o" else 16)
        try:
            return int(text)
        except ValueError as e:  # Python reads at most sys.get_int_max_str_digits() digits
            digits = len(text.lstrip("+-"))
            raise self._error(
                f"an integer of {digits:,} digits is longer than Python reads "
                f"({sys.get_int_max_str_digits():,} digits)",
                id_,
                node,
                suggestion="quote it to keep it as a string",
            ) from e
