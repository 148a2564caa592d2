"""Command-line overrides: ``--a#b#c=VALUE`` strings, parsed and applied to a config.

``VALUE`` is read as YAML (``20`` is an int, ``[1,2]`` a list, ``null`` None), except that values
starting with ``$``, ``@`` or ``%`` stay strings (expressions, references and macros). A key may be
created. In a component whose ``_target_`` is a dotted import path, the new key must be an argument
of the target (``--trainer#max_epoch=3`` is caught even when ``max_epochs`` is not in the config);
elsewhere, and for targets taking ``**kwargs``, a name close to an existing sibling is reported:
``max_epoch`` next to ``max_epochs`` is a typo far more often than a new key.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from lighter.config.ids import join_id, normalize_id, split_id
from lighter.config.loader import Locations
from lighter.config.merge import container_key, copy_tree, forget_locations
from lighter.errors import COMMAND_LINE, OverrideError, closest

__all__ = ["parse_override", "parse_overrides", "apply_override"]

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# A new key this close to an existing sibling is reported as a likely typo.
_TYPO_CUTOFF = 0.8


def parse_override(text: str) -> tuple[str, Any]:
    """Parse one ``--id=VALUE`` string (the leading ``--`` is optional) into ``(id, value)``.

    Raises:
        OverrideError: No ``=``, an empty id, or a value that is not valid YAML.
    """
    body = text[2:] if text.startswith("--") else text
    key, sep, raw = body.partition("=")
    key = key.strip()
    if not sep or not key or any(ch.isspace() for ch in key):
        raise OverrideError(
            f"bad override '{text}': expected --ID=VALUE, e.g. --trainer#max_epochs=10", location=COMMAND_LINE
        )
    id_ = normalize_id(key)
    if raw.startswith(("$", "@", "%")):
        return id_, raw
    try:
        return id_, yaml.load(raw, Loader=_Loader)
    except yaml.YAMLError as e:
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise OverrideError(
            f"bad value in override '{text}': {problem}",
            id=id_,
            location=COMMAND_LINE,
            suggestion="quote it to pass a string, e.g. --id='\"text\"'",
        ) from e


def parse_overrides(items: Iterable[str] | Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Parse CLI strings (or take a mapping ``id -> value`` as is) into ``(id, value)`` pairs."""
    if isinstance(items, Mapping):
        return [(normalize_id(k), v) for k, v in items.items()]
    if isinstance(items, str):
        items = [items]
    return [parse_override(item) for item in items]


def apply_override(config: dict, locations: Locations, id_: str, value: Any) -> None:
    """Set ``value`` at ``id_`` in ``config`` (in place), creating missing dicts along the way.

    Raises:
        OverrideError: The path runs through a scalar, a list index is out of range, or a new key
            is close to an existing sibling (with the suggestion).
    """
    keys = split_id(id_)
    if not keys:
        raise OverrideError("an override needs an id, e.g. --trainer#max_epochs=10", location=COMMAND_LINE)
    node, node_id = config, ""
    for depth, key in enumerate(keys):
        last = depth == len(keys) - 1
        here = join_id(node_id, key)
        if not isinstance(node, (dict, list)):
            raise OverrideError(
                f"cannot override '{id_}': '{node_id}' holds a {type(node).__name__}, not a dict or list",
                id=id_,
                location=COMMAND_LINE,
            )
        found = container_key(node, key)
        if found is None and isinstance(node, list):
            raise OverrideError(
                f"cannot override '{id_}': '{node_id}' is a list of {len(node)} items, it has no item {key}",
                id=id_,
                location=COMMAND_LINE,
            )
        if found is None:
            _check_new_key(node, node_id, str(key))
            found = key
            if not last:
                node[found] = {}
        if last:
            if found in node if isinstance(node, dict) else True:
                forget_locations(locations, node[found], here)
            node[found] = copy_tree(value)
            _mark_command_line(locations, node[found], here)
            return
        node, node_id = node[found], here


def _check_new_key(node: dict, node_id: str, key: str) -> None:
    """Raise if creating ``key`` in ``node`` is probably a typo (see the module docstring)."""
    here = join_id(node_id, key)
    siblings = [str(k) for k in node]
    accepted = _target_arguments(node, node_id)
    if accepted is not None:
        if key in accepted:
            return
        near = closest(key, accepted)
        if not near or near[0] not in siblings:  # a close sibling gets the usual message below
            raise OverrideError(
                f"override creates a new key '{key}', which {node['_target_']} does not take",
                id=here,
                location=COMMAND_LINE,
                suggestion=f"did you mean '{join_id(node_id, near[0])}'?" if near else None,
            )
    near = closest(key, siblings, cutoff=_TYPO_CUTOFF)
    if near:
        raise OverrideError(
            f"override creates a new key '{key}' next to the existing '{near[0]}'",
            id=here,
            location=COMMAND_LINE,
            suggestion=f"did you mean '{join_id(node_id, near[0])}'?",
        )


def _target_arguments(node: dict, node_id: str) -> list[str] | None:
    """Names a new key of ``node`` may take: its target's arguments plus the reserved keys.

    ``None`` when that cannot be known: no dotted ``_target_``, one that does not import, no
    readable signature, or ``**kwargs``. Only this path imports the target, so overrides stay cheap.
    """
    target = node.get("_target_")
    if not isinstance(target, str) or "." not in target or target.startswith(("$", "@", "%")):
        return None
    from lighter.config.components import RESERVED_KEYS, locate

    try:
        params = inspect.signature(locate(target, id=node_id, location=None)).parameters.values()
    except Exception:  # noqa: BLE001 - any failure here is reported, located, when the config is built
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    named = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return named + sorted(RESERVED_KEYS) + ["_debug_"]


def _mark_command_line(locations: Locations, value: Any, id_: str) -> None:
    locations[id_] = COMMAND_LINE
    if isinstance(value, (dict, list)):
        for key, item in value.items() if isinstance(value, dict) else enumerate(value):
            _mark_command_line(locations, item, join_id(id_, key))
