"""Merge config files: later values win, dicts merge recursively, key prefixes change the rule.

Keys of a later file, at any depth where they meet an existing dict:

- ``a#b#c: v`` sets a nested value (missing dicts on the way are created),
- ``+key: v`` merges a dict into the existing one (a shallow update, MONAI's meaning) or extends
  a list,
- ``=key: v`` replaces the existing value wholesale,
- ``~key: ...`` deletes the key (no error when it is absent).

Locations follow the winning value: every id placed from a file gets that file's location.
"""

from __future__ import annotations

from typing import Any

from lighter.config.ids import join_id, split_id
from lighter.config.loader import Locations
from lighter.errors import ConfigError

__all__ = ["copy_tree", "forget_locations", "place_locations", "merge_into", "child", "container_key"]


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
        key_id = join_id(source_id, raw_key)
        operator, name = "", raw_key
        if isinstance(raw_key, str) and len(raw_key) > 1 and raw_key[0] in "+=~":
            operator, name = raw_key[0], raw_key[1:]
        keys = split_id(name) if isinstance(name, str) else [name]
        parent, parent_id = target, target_id
        for key in keys[:-1]:
            found = container_key(parent, str(key))
            if found is None:
                if not isinstance(parent, dict):
                    raise ConfigError(
                        f"cannot set '{name}': '{parent_id}' is a list without item {key}",
                        id=join_id(target_id, name),
                        location=source_locations.get(key_id),
                    )
                parent[key] = {}
                found = key
            if not isinstance(parent[found], (dict, list)):
                raise ConfigError(
                    f"cannot set '{name}': '{join_id(parent_id, key)}' holds a {type(parent[found]).__name__}, "
                    "not a dict or list",
                    id=join_id(target_id, name),
                    location=source_locations.get(key_id),
                )
            parent, parent_id = parent[found], join_id(parent_id, key)
        last = keys[-1] if keys else name
        found = container_key(parent, str(last))
        this_id = join_id(parent_id, last)
        existing = parent[found] if found is not None else None
        if operator == "~":
            if found is not None:
                forget_locations(locations, existing, this_id)
                del parent[found]
            continue
        if operator == "+" and found is not None:
            if isinstance(existing, dict) and isinstance(value, dict):
                for k, v in value.items():
                    _replace(
                        existing, k, v, join_id(this_id, k), locations, source_locations, join_id(key_id, k)
                    )
                continue
            if isinstance(existing, list) and isinstance(value, list):
                start = len(existing)
                existing.extend(value)
                for i, v in enumerate(value):
                    place_locations(
                        locations, v, join_id(this_id, start + i), source_locations, join_id(key_id, i)
                    )
                continue
            raise ConfigError(
                f"'+{last}' merges a dict into a dict or a list into a list, not a {type(value).__name__} "
                f"into a {type(existing).__name__}",
                id=this_id,
                location=source_locations.get(key_id),
            )
        if operator == "" and isinstance(existing, dict) and isinstance(value, dict):
            merge_into(existing, this_id, value, key_id, locations, source_locations)
            continue
        if found is None and isinstance(parent, list):
            raise ConfigError(
                f"cannot set '{name}': '{parent_id}' is a list without item {last}",
                id=this_id,
                location=source_locations.get(key_id),
            )
        _replace(
            parent, found if found is not None else last, value, this_id, locations, source_locations, key_id
        )


def _replace(
    parent: Any,
    key: Any,
    value: Any,
    id_: str,
    locations: Locations,
    source_locations: Locations,
    source_id: str,
) -> None:
    if isinstance(parent, list) or key in parent:
        forget_locations(locations, parent[key], id_)
    parent[key] = value
    place_locations(locations, value, id_, source_locations, source_id)
