"""Parse step: turn a raw config into a flat table of nodes, one per id, ready to resolve.

One walk over the config (linear in its size) makes relative ids absolute, expands ``%`` macros
(a fresh copy of the raw value, also ``%file.yaml#id``), and classifies every value: literal,
``@`` reference, ``$`` expression (with its references found once, here), import statement,
component, dict or list. Resolution then never scans the config again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lighter.config import ids
from lighter.config.expressions import is_import_statement
from lighter.config.loader import Locations, load_file
from lighter.config.merge import child
from lighter.errors import (
    CircularReferenceError,
    ConfigFileNotFoundError,
    Location,
    MissingReferenceError,
    RelativeIdError,
    did_you_mean,
)

__all__ = [
    "LITERAL",
    "REFERENCE",
    "EXPRESSION",
    "IMPORT",
    "COMPONENT",
    "DICT",
    "LIST",
    "Graph",
    "build_graph",
    "all_ids",
]

LITERAL, REFERENCE, EXPRESSION, IMPORT, COMPONENT, DICT, LIST = range(7)


@dataclass
class Graph:
    """Every id of a parsed config.

    Attributes:
        nodes: ``id -> (kind, raw value, extra)``; extra is the referenced id (reference), the
            Python code and referenced ids (expression), the code (import) or the children as
            ``(key, id)`` pairs (component, dict, list).
        imports: Ids of import statements, in config order (MONAI runs them all first).
        locations: Where each id's value was written (macro copies point at their source).
        config: The config as parsed: macros expanded, relative ids made absolute (a new tree).
    """

    nodes: dict[str, tuple[int, Any, Any]] = field(default_factory=dict)
    imports: list[str] = field(default_factory=list)
    locations: Locations = field(default_factory=dict)
    config: Any = None

    def where(self, id_: str) -> Location | None:
        """Location (file and line) of ``id_``, or of the closest enclosing id that has one.

        Errors show ``file:line``; the column is kept for syntax errors and :meth:`ConfigParser.location`.
        """
        for candidate in ids.ancestors(id_):
            found = self.locations.get(candidate)
            if found is not None:
                return Location(found.file, found.line) if found.column is not None else found
        return None


def all_ids(value: Any, id_: str = "") -> list[str]:
    """Every id inside ``value`` (the root included)."""
    out = [id_]
    if isinstance(value, (dict, list)):
        for key, item in value.items() if isinstance(value, dict) else enumerate(value):
            out.extend(all_ids(item, ids.join_id(id_, key)))
    return out


def build_graph(config: Any, locations: Locations, base_dir: Callable[[str], Path | None]) -> Graph:
    """Walk ``config`` once and return its :class:`Graph`.

    Args:
        config: The raw merged config (not modified).
        locations: Where each raw id was written.
        base_dir: For an id, the folder of the file it was written in (``%file.yaml`` macros are
            looked up there first, then in the working directory).

    Raises:
        RelativeIdError: A relative id climbs above the root.
        MissingReferenceError: A ``%`` macro names an id that does not exist.
        ConfigFileNotFoundError: A ``%file.yaml`` macro names a file that does not exist.
        CircularReferenceError: Macros that expand into each other.
    """
    return _Walker(config, locations, base_dir).run()


class _Walker:
    def __init__(self, config: Any, locations: Locations, base_dir: Callable[[str], Path | None]) -> None:
        self.config = config
        self.locations = locations
        self.base_dir = base_dir
        self.graph = Graph()
        self.files: dict[Path, tuple[Any, Locations]] = {}
        self.expanding: list[str] = []

    def run(self) -> Graph:
        self.graph.config = self.walk(self.config, "", self.locations, None, None)
        return self.graph

    def walk(
        self, value: Any, id_: str, source: Locations, source_id: str | None, relative_to: str | None
    ) -> Any:
        """Add ``value`` (now at ``id_``; read at ``source_id`` of ``source``) and all inside it.

        ``source_id``/``relative_to`` are ``None`` when they equal ``id_`` (the common case, kept cheap).
        """
        graph = self.graph
        where = source.get(id_ if source_id is None else source_id)
        if where is not None:
            graph.locations[id_] = where
        if isinstance(value, (dict, list)):
            children: list[tuple[Any, str]] = []
            out: Any = {} if isinstance(value, dict) else []
            for key, item in value.items() if isinstance(value, dict) else enumerate(value):
                child_id = f"{id_}#{key}" if id_ else str(key)
                result = self.walk(
                    item,
                    child_id,
                    source,
                    None if source_id is None else ids.join_id(source_id, key),
                    None if relative_to is None else ids.join_id(relative_to, key),
                )
                if isinstance(out, dict):
                    out[key] = result
                else:
                    out.append(result)
                children.append((key, child_id))
            kind = LIST if isinstance(out, list) else COMPONENT if "_target_" in out else DICT
            graph.nodes[id_] = (kind, out, children)
            return out
        if not isinstance(value, str) or not value or value[0] not in "@$%" and "@" not in value:
            graph.nodes[id_] = (LITERAL, value, None)
            return value
        try:
            text = ids.resolve_relative_ids(value, id_ if relative_to is None else relative_to)
        except ValueError as e:
            raise RelativeIdError(str(e), id=id_, location=graph.where(id_)) from e
        if text.startswith(ids.MACRO):
            return self.expand(text, id_)
        if text.startswith(ids.EXPR):
            code = text[len(ids.EXPR) :]
            if is_import_statement(code):
                graph.nodes[id_] = (IMPORT, text, code)
                graph.imports.append(id_)
            else:
                graph.nodes[id_] = (
                    EXPRESSION,
                    text,
                    (ids.substitute_references(text), ids.expression_references(text)),
                )
            return text
        target = ids.whole_reference(text)
        graph.nodes[id_] = (LITERAL, text, None) if target is None else (REFERENCE, text, target)
        return text

    def expand(self, text: str, id_: str) -> Any:
        path, source_id = ids.split_path_id(text[len(ids.MACRO) :])
        key = f"{path}{ids.SEP}{source_id}" if path else source_id
        if key in self.expanding:
            cycle = " -> ".join([*self.expanding[self.expanding.index(key) :], key])
            raise CircularReferenceError(
                f"macros expand into each other: {cycle}",
                id=id_,
                location=self.graph.where(id_),
            )
        if path:
            content, source = self.load(path, id_)
        else:
            content, source = self.config, self.locations
        try:
            raw = content
            for part in ids.split_id(source_id):
                raw = child(raw, part)
        except (KeyError, TypeError) as e:
            candidates = all_ids(content)
            raise MissingReferenceError(
                f"macro '{text}' names an id that does not exist{f' in {path}' if path else ''}",
                id=id_,
                location=self.graph.where(id_),
                suggestion=did_you_mean(source_id, candidates),
            ) from e
        self.expanding.append(key)
        try:
            # Relative ids inside a copy keep pointing where they pointed at the source (as MONAI
            # does); a copy from another file has no place here, so its are taken from where it lands.
            return self.walk(raw, id_, source, source_id, None if path else source_id)
        finally:
            self.expanding.pop()

    def load(self, path: str, id_: str) -> tuple[Any, Locations]:
        candidates = [Path(path)]
        folder = self.base_dir(id_)
        if folder is not None and not Path(path).is_absolute():
            candidates.insert(0, folder / path)
        for candidate in candidates:
            if candidate.is_file():
                resolved = candidate.resolve()
                if resolved not in self.files:
                    self.files[resolved] = load_file(candidate)
                return self.files[resolved]
        raise ConfigFileNotFoundError(
            f"macro file not found: '{path}'", id=id_, location=self.graph.where(id_)
        )
