"""MONAI's ``ReferenceResolver``: resolve ``@id`` references between config items.

Two uses, one class. Built by hand (``ReferenceResolver()`` then ``add_item(...)``, as MONAI's
own tests and some bundle tools do), its items are placed into one nested config and resolved by
a private :class:`~lighter.config.ConfigParser`. Reached as ``parser.ref_resolver``, it is a view
of that parser: ``resolved_content`` is the parser's own table of built objects and
``get_resolved_content`` is ``get_parsed_content``. Either way the work is done by lighter's
linear-time resolver; this class only translates MONAI's vocabulary.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lighter.config import ids
from lighter.config.graph import COMPONENT, DICT, EXPRESSION, IMPORT, LIST
from lighter.config.items import ConfigComponent, ConfigExpression, ConfigItem
from lighter.config.merge import container_key, copy_tree
from lighter.config.resolver import use_reference_resolver
from lighter.errors import MissingReferenceError

if TYPE_CHECKING:
    from lighter.config.parser import ConfigParser

__all__ = ["ReferenceResolver"]


class _Resolved(Mapping):
    """Read-only view of a resolver's built objects whose lookups accept ``::`` ids too."""

    def __init__(self, memo: dict[str, Any]) -> None:
        self._memo = memo

    def __getitem__(self, id_: str) -> Any:
        return self._memo[ids.normalize_id(id_)]

    def __contains__(self, id_: object) -> bool:
        return isinstance(id_, (str, int)) and ids.normalize_id(id_) in self._memo

    def __iter__(self) -> Iterator[str]:
        return iter(self._memo)

    def __len__(self) -> int:
        return len(self._memo)

    def __repr__(self) -> str:
        return repr(self._memo)


class ReferenceResolver:
    """Resolve config items that refer to each other (``"@id"``, ``"$@id + 1"``).

    Args:
        items: The items to start with (each id once; a later item with the same id is ignored,
            as in MONAI).

    Attributes:
        allow_missing_reference: MONAI's switch: when true, a missing ``@id`` is kept as text with
            a warning instead of raising. A class attribute, read by every parser when a reference
            is missing.
    """

    sep = ids.SEP
    ref = ids.REF
    allow_missing_reference = False

    def __init__(self, items: Sequence[ConfigItem] | None = None) -> None:
        self._items: dict[str, ConfigItem] = {}
        self._own: ConfigParser | None = None  # built from the items when first needed
        self._parser: ConfigParser | None = None  # set for `parser.ref_resolver`
        self._view: tuple[Any, dict[str, ConfigItem]] | None = None  # a parser's items, by graph
        for item in items or ():
            self.add_item(item)

    @classmethod
    def of_parser(cls, parser: ConfigParser) -> ReferenceResolver:
        """The resolver view of ``parser`` (what ``parser.ref_resolver`` returns)."""
        view = cls()
        view._parser = parser
        return view

    # --- items ----------------------------------------------------------------------------------

    @property
    def items(self) -> dict[str, ConfigItem]:
        """``id -> ConfigItem`` (for a parser: one per id of its parsed config, ids with ``#``)."""
        if self._parser is None:
            return self._items
        graph = self._parser._parsed_graph()
        if self._view is None or self._view[0] is not graph:  # made again only after a change
            self._view = (graph, {id_: _item(id_, node) for id_, node in graph.nodes.items()})
        return self._view[1]

    def add_item(self, item: ConfigItem) -> None:
        """Add ``item``; an id already present keeps its first item."""
        id_ = ids.normalize_id(item.get_id())
        if self._parser is not None:
            if id_ not in self._parser:
                self._parser[id_] = item.get_config()
            return
        if id_ not in self._items:
            self._items[id_] = item
            self._own = None

    def get_item(self, id: str, resolve: bool = False, **kwargs: Any) -> ConfigItem | None:  # noqa: A002
        """Return the item at ``id`` (``None`` if there is none).

        Args:
            id: The id.
            resolve: Resolve it first; the item's config then holds its children's built objects
                in place of their raw values, so ``item.instantiate()`` builds a fresh one.
            **kwargs: ``instantiate`` and ``eval_expr``, as for :meth:`get_resolved_content`.
        """
        id_ = ids.normalize_id(id)
        if resolve:
            self.get_resolved_content(id_, **kwargs)
            parser = self._source()
            flags = (bool(kwargs.get("instantiate", True)), bool(kwargs.get("eval_expr", True)))
            node = parser._parsed_graph().nodes.get(id_)
            if node is None:
                return None
            item = self.items.get(id_) or _item(id_, node)
            item.update_config(_resolved_config(id_, node, parser._memo(flags)))
            return item
        return self.items.get(id_)

    # --- resolution -----------------------------------------------------------------------------

    def _source(self) -> ConfigParser:
        if self._parser is not None:
            return self._parser
        if self._own is None:
            from lighter.config.parser import ConfigParser

            config: Any = {}
            names: dict[str, Any] = {}
            # Parents first, so that an item for `a#b` lands inside the item for `a`.
            for id_, item in sorted(self._items.items(), key=lambda pair: len(ids.split_id(pair[0]))):
                config = _place(config, id_, copy_tree(item.get_config()))
                if isinstance(item, ConfigExpression):
                    names.update(item.globals)
            self._own = ConfigParser(config, globals=names)
        return self._own

    def get_resolved_content(self, id: str, **kwargs: Any) -> Any:  # noqa: A002
        """Return the built object at ``id``: as ``ConfigParser.get_parsed_content`` (lazy).

        Raises:
            MissingReferenceError: ``id`` or a reference it needs does not exist (a ``KeyError``
                and a ``ValueError``).
            CircularReferenceError: ``id`` depends on itself (a ``ValueError``).
        """
        kwargs.pop("lazy", None)
        return self._source().get_parsed_content(id, **kwargs)

    @property
    def resolved_content(self) -> Mapping[str, Any]:
        """The objects built so far (default flags), by id."""
        return _Resolved(self._source()._memo((True, True)))

    def is_resolved(self) -> bool:
        """Whether anything has been built yet."""
        return bool(self.resolved_content)

    def remove_resolved_content(self, id: str) -> Any | None:  # noqa: A002
        """Forget the built object at ``id`` (it is built again when next needed); return it."""
        return self._source()._memo((True, True)).pop(ids.normalize_id(id), None)

    def reset(self) -> None:
        """Drop every built object (and, for a resolver built by hand, every item)."""
        if self._parser is not None:
            self._parser.parse(reset=True)
            return
        self._items, self._own = {}, None

    # --- MONAI's id helpers ---------------------------------------------------------------------

    @classmethod
    def normalize_id(cls, id: str | int) -> str:  # noqa: A002
        """Return ``id`` as a string with ``#`` separators (``::`` is accepted as a synonym)."""
        return ids.normalize_id(id)

    @classmethod
    def split_id(cls, id: str | int, last: bool = False) -> list[str]:  # noqa: A002
        """Split ``id`` into its keys; with ``last``, into ``[parent id, last key]``."""
        if last:
            parent, _, key = ids.normalize_id(id).rpartition(ids.SEP)
            return [parent, key]
        return ids.normalize_id(id).split(ids.SEP)

    @classmethod
    def iter_subconfigs(cls, id: str, config: Any) -> Iterator[tuple[Any, str, Any]]:  # noqa: A002
        """Yield ``(key, sub id, value)`` for each item of a dict or list ``config`` at ``id``."""
        for key, value in config.items() if isinstance(config, dict) else enumerate(config):
            yield key, ids.join_id(id, key), value

    # --- MONAI's helpers on raw configs (what its ConfigParser calls internally) ------------------

    @classmethod
    def match_refs_pattern(cls, value: str) -> dict[str, int]:
        """The ids ``value`` refers to, each with how many times.

        In a ``$`` expression every ``@id`` counts; any other string counts only when it is exactly
        ``@id``.
        """
        return ids.reference_counts(value)

    @classmethod
    def update_refs_pattern(cls, value: str, refs: Mapping[str, Any]) -> Any:
        """``value`` with its references replaced from ``refs`` (built objects by id).

        An expression gets ``__local_refs['id']`` for each ``@id`` (its ``evaluate`` passes
        ``refs`` under that name); a string that is exactly ``@id`` becomes ``refs[id]`` itself;
        other text is returned as it is. Ids are written with ``#`` (``::`` is read as ``#``).

        Raises:
            MissingReferenceError: An id that is not in ``refs`` (a ``KeyError``, as in MONAI),
                unless :attr:`allow_missing_reference`, which warns and keeps the text.
        """
        found = ids.reference_counts(value)
        missing = [id_ for id_ in found if id_ not in refs]
        for id_ in missing:
            message = f"can not find expected ID '{id_}' in the references."
            if not cls.allow_missing_reference:
                raise MissingReferenceError(message, id=id_)
            warnings.warn(message, stacklevel=2)
        if not found:
            return value
        if ids.is_expression(value):
            return ids.EXPR + ids.substitute_references(value, keep=missing)
        return value if missing else refs[next(iter(found))]

    @classmethod
    def find_refs_in_config(cls, config: Any, id: str, refs: dict[str, int] | None = None) -> dict[str, int]:  # noqa: A002
        """Every id the raw ``config`` at ``id`` depends on, with counts.

        The ids its strings refer to, and the ids of the components and expressions inside it
        (they are built before it). ``refs``, when given and not empty, is updated and returned.
        """
        found = refs or {}
        if isinstance(config, str):
            for id_, count in cls.match_refs_pattern(config).items():
                found[id_] = found.get(id_, 0) + count
        if not isinstance(config, list | dict):
            return found
        for _, sub_id, value in cls.iter_subconfigs(id, config):
            if ConfigComponent.is_instantiable(value):
                found[sub_id] = 1
            elif ConfigExpression.is_expression(value) and sub_id not in found:
                found[sub_id] = 1
            found = cls.find_refs_in_config(value, sub_id, found)
        return found

    @classmethod
    def update_config_with_refs(cls, config: Any, id: str, refs: Mapping[str, Any] | None = None) -> Any:  # noqa: A002
        """A copy of the raw ``config`` at ``id`` with what ``refs`` holds put in.

        Components and expressions inside it are replaced by ``refs[sub id]`` (a disabled
        component, ``None`` there, is left out), references in strings as in
        :meth:`update_refs_pattern`; the rest is copied.

        Raises:
            KeyError: A component or expression inside ``config`` that ``refs`` lacks.
        """
        refs = refs or {}
        if isinstance(config, str):
            return cls.update_refs_pattern(config, refs)
        if not isinstance(config, list | dict):
            return config
        out = type(config)()
        for key, sub_id, value in cls.iter_subconfigs(id, config):
            if ConfigComponent.is_instantiable(value) or ConfigExpression.is_expression(value):
                updated = refs[sub_id]
                if updated is None and ConfigComponent.is_instantiable(value):
                    continue  # disabled
            else:
                updated = cls.update_config_with_refs(value, sub_id, refs)
            if isinstance(out, dict):
                out[key] = updated
            else:
                out.append(updated)
        return out


def _item(id_: str, node: tuple[int, Any, Any]) -> ConfigItem:
    kind, raw, _ = node
    if kind == COMPONENT:
        return ConfigComponent(raw, id=id_)
    if kind in (EXPRESSION, IMPORT):
        return ConfigExpression(raw, id=id_)
    return ConfigItem(raw, id=id_)


def _resolved_config(id_: str, node: tuple[int, Any, Any], memo: dict[str, Any]) -> Any:
    """A container's raw value with each child replaced by its built object (MONAI's resolved item)."""
    kind, raw, children = node
    if kind not in (COMPONENT, DICT, LIST):
        return memo.get(id_, raw)
    out: dict[Any, Any] = {}
    for key, child_id in children:
        out[key] = memo[child_id] if child_id in memo else raw[key]
    return list(out.values()) if kind == LIST else out


def _place(config: Any, id_: str, value: Any) -> Any:
    """Put ``value`` at ``id_`` inside ``config`` (dicts created on the way); return the new root."""
    keys = ids.split_id(id_)
    if not keys:
        return value
    if not isinstance(config, (dict, list)):
        config = {}
    node = config
    for key in keys[:-1]:
        found = container_key(node, key)
        if found is None:
            if not isinstance(node, dict):
                return config  # an item below a list index that does not exist: nowhere to put it
            node[key] = {}
            found = key
        if not isinstance(node[found], (dict, list)):
            node[found] = {}
        node = node[found]
    found = container_key(node, keys[-1])
    if found is None and isinstance(node, list):
        return config
    node[keys[-1] if found is None else found] = value
    return config


use_reference_resolver(ReferenceResolver)
