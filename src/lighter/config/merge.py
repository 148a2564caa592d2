"""Merge config files: later values win, dicts merge recursively, key prefixes change the rule.

Keys of a later file, at any depth where they meet an existing dict:

- ``a#b#c: v`` sets a nested value (missing dicts on the way are created),
- ``+key: v`` merges a dict into the existing one (a shallow update, MONAI's meaning) or extends
  a list,
- ``=key: v`` replaces the existing value wholesale,
- ``~key: ...`` deletes the key (no error when it is absent).

A later component whose ``_target_`` differs from the earlier one at the same id replaces it
instead of merging into it: the arguments of the old class mean nothing to the new one (MONAI's
``a#b:`` keys replace too). Without a ``_target_``, or with the same one, dicts merge.

:func:`apply_key` applies one such key, from a file or from the command line
(:mod:`lighter.config.overrides` words its problems as the command line's). Locations follow the
winning value: every id placed from a file gets that file's location.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lighter.config.ids import join_id, split_id
from lighter.config.loader import Locations
from lighter.errors import ConfigError, LighterError, Location

__all__ = [
    "OPERATORS",
    "Wording",
    "copy_tree",
    "forget_locations",
    "place_locations",
    "apply_key",
    "merge_into",
    "child",
    "container_key",
    "swaps_target",
]

OPERATORS = ("+", "=", "~")


def copy_tree(value: Any) -> Any:
    """Copy the dicts and lists of ``value``; leaves (numbers, strings, objects) are shared."""
    if isinstance(value, dict):
        return {k: copy_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_tree(v) for v in value]
    return value


def forget_locations(locations: Locations, value: Any, id_: str) -> None:
    """Drop the locations of ``id_`` and of everything inside ``value`` (which was at ``id_``)."""
    locations.pop(id_, None)
    if isinstance(value, (dict, list)):
        for key, item in value.items() if isinstance(value, dict) else enumerate(value):
            forget_locations(locations, item, join_id(id_, key))


def place_locations(
    locations: Locations, value: Any, id_: str, source: Locations | None, source_id: str
) -> None:
    """Record, for ``value`` placed at ``id_``, the locations it had at ``source_id`` in ``source``."""
    where = source.get(source_id) if source is not None else None
    if where is not None:
        locations[id_] = where
    if isinstance(value, (dict, list)):
        for key, item in value.items() if isinstance(value, dict) else enumerate(value):
            place_locations(locations, item, join_id(id_, key), source, join_id(source_id, key))


def container_key(container: Any, key: str) -> Any:
    """Return the key under which ``key`` (an id part) lives in ``container``, or ``None``."""
    if isinstance(container, dict):
        if key in container:
            return key
        try:  # YAML keys may be integers: `1: x` is reachable as id "1"
            return int(key) if int(key) in container else None
        except ValueError:
            return None
    if isinstance(container, list):
        try:
            index = int(key)
        except ValueError:
            return None
        return index if -len(container) <= index < len(container) else None
    return None


def child(container: Any, key: str) -> Any:
    """Return ``container``'s item at id part ``key``; raises ``KeyError`` when absent."""
    found = container_key(container, key)
    if found is None:
        raise KeyError(key)
    return container[found]


def swaps_target(existing: Any, value: Any) -> bool:
    """Whether ``value`` is a component of another class than ``existing`` (both with a ``_target_``)."""
    return (
        isinstance(existing, dict)
        and isinstance(value, dict)
        and "_target_" in existing
        and "_target_" in value
        and existing["_target_"] != value["_target_"]
    )


class Wording:
    """How the problems of keys written in a config file are worded; overrides word their own.

    Each method returns the error to raise. ``name`` is the key as written (without its
    operator), ``full`` the id it reaches, ``where`` where it was written.
    """

    def through_scalar(
        self, name: str, full: str, holder: str, kind: str, where: Location | None
    ) -> LighterError:
        """The path of ``name`` runs through ``holder``, which holds a ``kind`` value."""
        return ConfigError(
            f"cannot set '{name}': '{holder}' holds a {kind}, not a dict or list", id=full, location=where
        )

    def no_item(
        self, name: str, full: str, list_id: str, size: int, key: Any, where: Location | None
    ) -> LighterError:
        """The path of ``name`` asks the list at ``list_id`` (of ``size`` items) for item ``key``."""
        return ConfigError(
            f"cannot set '{name}': '{list_id}' is a list without item {key}", id=full, location=where
        )

    def plus_mismatch(
        self, last: Any, full: str, value: Any, existing: Any, where: Location | None
    ) -> LighterError:
        """``+`` meets a value of another kind than the one it adds."""
        return ConfigError(
            f"'+{last}' merges a dict into a dict or a list into a list, not a {type(value).__name__} "
            f"into a {type(existing).__name__}",
            id=full,
            location=where,
        )


_FILE = Wording()

# Called with (container, its id, key) before a key is created, and before `~` finds nothing.
KeyCheck = Callable[[Any, str, str], None]


def apply_key(
    target: Any,
    target_id: str,
    raw_key: Any,
    value: Any,
    locations: Locations,
    source: Locations | None,
    source_id: str,
    *,
    merge_dicts: bool = True,
    wording: Wording = _FILE,
    on_new_key: KeyCheck | None = None,
    on_nothing_to_delete: KeyCheck | None = None,
) -> None:
    """Apply one key (with its ``+``/``=``/``~`` prefix and ``a#b`` path) and its value onto ``target``.

    ``target`` (the container at ``target_id``) and ``locations`` belong to the caller's parser;
    ``value`` is placed without copying.

    Args:
        target: The dict (or list) the key is written in.
        target_id: Its id.
        raw_key: The key as written: ``"a#b"``, ``"+a"``, ``"~a"``, or a plain (possibly int) key.
        value: Its value (ignored by ``~``).
        locations: The parser's locations, updated for what is placed and removed.
        source: Where each id of the source was written (``source_id`` and the ids below it).
        source_id: The id of ``value`` in ``source``.
        merge_dicts: Whether a plain key merges a dict into an existing dict (a file's rule) or
            replaces it (the command line's ``--id=VALUE``).
        wording: Words the problems (a file's wording unless the caller brings its own).
        on_new_key: Called before a key is created (may raise, e.g. a likely typo).
        on_nothing_to_delete: Called when ``~`` meets no key to delete (may raise).

    Raises:
        LighterError: The path runs through a value that is not a dict or list, or a list without
            that item, or ``+`` meets a value of another kind (as ``wording`` words them).
    """
    operator, name = "", raw_key
    if isinstance(raw_key, str) and len(raw_key) > 1 and raw_key[0] in OPERATORS:
        operator, name = raw_key[0], raw_key[1:]
    keys = split_id(name) if isinstance(name, str) else [name]
    last = keys[-1] if keys else name
    full = join_id(target_id, name)
    where = source.get(source_id) if source is not None else None
    parent, parent_id = target, target_id
    for depth, key in enumerate(keys):
        if not isinstance(parent, (dict, list)):
            raise wording.through_scalar(name, full, parent_id, type(parent).__name__, where)
        if depth == len(keys) - 1:
            break
        found = container_key(parent, str(key))
        if found is None:
            if operator == "~":  # nothing there to delete
                if on_nothing_to_delete is not None:
                    on_nothing_to_delete(parent, parent_id, str(key))
                return
            if isinstance(parent, list):
                raise wording.no_item(name, full, parent_id, len(parent), key, where)
            if on_new_key is not None:
                on_new_key(parent, parent_id, str(key))
            parent[key] = {}
            if where is not None:
                locations[join_id(parent_id, key)] = where
            found = key
        parent, parent_id = parent[found], join_id(parent_id, key)
    found = container_key(parent, str(last))
    this_id = join_id(parent_id, last)
    if operator == "~":
        if found is not None:
            forget_locations(locations, parent[found], this_id)
            del parent[found]
        elif on_nothing_to_delete is not None:
            on_nothing_to_delete(parent, parent_id, str(last))
        return
    if found is None and isinstance(parent, list):
        raise wording.no_item(name, full, parent_id, len(parent), last, where)
    existing = parent[found] if found is not None else None
    if operator == "+" and found is not None:
        _extend(existing, value, this_id, last, locations, source, source_id, wording, where)
        return
    if found is None and on_new_key is not None:
        on_new_key(parent, parent_id, str(last))
    if (
        operator == ""
        and merge_dicts
        and isinstance(existing, dict)
        and isinstance(value, dict)
        and not swaps_target(existing, value)
    ):
        merge_into(existing, this_id, value, source_id, locations, source)
        return
    _replace(parent, found if found is not None else last, value, this_id, locations, source, source_id)


def merge_into(
    target: dict,
    target_id: str,
    source: dict,
    source_id: str,
    locations: Locations,
    source_locations: Locations,
) -> None:
    """Merge ``source`` (read at ``source_id`` of a file) into ``target`` (at ``target_id``), in place.

    ``target`` and ``locations`` belong to the caller's parser; ``source`` is fresh content whose
    values may be placed into ``target`` without copying.

    Raises:
        ConfigError: A key path goes through a value that is not a dict or list, or ``+key``
            meets a value of a different kind.
    """
    for raw_key, value in source.items():
        apply_key(target, target_id, raw_key, value, locations, source_locations, join_id(source_id, raw_key))


def _extend(
    existing: Any,
    value: Any,
    id_: str,
    last: Any,
    locations: Locations,
    source: Locations | None,
    source_id: str,
    wording: Wording,
    where: Location | None,
) -> None:
    """``+key``: a shallow update of a dict, or a list extended."""
    if isinstance(existing, dict) and isinstance(value, dict):
        for k, v in value.items():
            _replace(existing, k, v, join_id(id_, k), locations, source, join_id(source_id, k))
        return
    if isinstance(existing, list) and isinstance(value, list):
        start = len(existing)
        existing.extend(value)
        for i, v in enumerate(value):
            place_locations(locations, v, join_id(id_, start + i), source, join_id(source_id, i))
        return
    raise wording.plus_mismatch(last, id_, value, existing, where)


def _replace(
    parent: Any,
    key: Any,
    value: Any,
    id_: str,
    locations: Locations,
    source: Locations | None,
    source_id: str,
) -> None:
    if isinstance(parent, list) or key in parent:
        forget_locations(locations, parent[key], id_)
    parent[key] = value
    place_locations(locations, value, id_, source, source_id)
