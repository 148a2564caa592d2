"""Command-line overrides: ``--a#b#c=VALUE`` strings, parsed and applied to a config.

``VALUE`` is read as YAML 1.2, like the files (``20`` is an int, ``1e-3`` a float, ``[1,2]`` a
list, ``null`` None), except that values starting with ``$``, ``@`` or ``%`` stay strings
(expressions, references and macros). ``--a#b VALUE`` (a space instead of ``=``) works too. The
key prefixes of config files work on the command line:

- ``--+a#b=VALUE`` merges a dict into the existing one (a shallow update) or extends a list,
- ``--=a#b=VALUE`` replaces the value wholesale (what a plain override does too),
- ``--~a#b`` deletes the key (``--~a#b=null``, the file spelling, is accepted; any other value is
  an error, since it cannot be meant).

A key may be created. In a component whose ``_target_`` is a dotted import path, the new key must
be an argument of the target (``--trainer#max_epoch=3`` is caught even when ``max_epochs`` is not
in the config); elsewhere, and for targets taking ``**kwargs``, a name close to an existing sibling
is reported: ``max_epoch`` next to ``max_epochs`` is a typo far more often than a new key. Checking
the target imports it, so :func:`apply_override` can put that check off (``check_targets=False``)
until the cheap checks of the whole config have run; :func:`check_new_keys` runs it then.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lighter.config.ids import join_id, normalize_id, split_id
from lighter.config.loader import MAX_DEPTH, Locations, load_value, short_id
from lighter.config.merge import OPERATORS, Wording, apply_key, container_key, copy_tree
from lighter.errors import COMMAND_LINE, ConfigSyntaxError, LighterError, Location, OverrideError, closest

__all__ = [
    "OPERATORS",
    "parse_override",
    "join_separated",
    "parse_overrides",
    "apply_override",
    "check_new_keys",
]

# A new key this close to an existing sibling is reported as a likely typo.
_TYPO_CUTOFF = 0.8
# This close (one letter added, dropped or changed in a longer name), it is a typo even before the
# target's signature is read: reported without importing the target.
_SURE_TYPO = 0.9
_NULLS = ("", "null", "Null", "NULL", "~")


def _shown(text: str) -> str:
    """An override as typed, cut to fit a message's first line."""
    return text if len(text) <= 160 else f"{text[:157]}..."


def parse_override(text: str) -> tuple[str, Any]:
    """Parse one ``--id=VALUE`` string (the leading ``--`` is optional) into ``(id, value)``.

    The id keeps a ``+``/``=``/``~`` prefix, which :func:`apply_override` acts on.

    Raises:
        OverrideError: No ``=``, an empty id, a value that is not valid YAML or starts with ``=``,
            or a value given to ``~`` (which deletes).
    """
    body = text[2:] if text.startswith("--") else text
    operator = body[0] if body[:1] in OPERATORS else ""
    key, sep, raw = body[len(operator) :].partition("=")
    key = key.strip()
    if not key or any(ch.isspace() for ch in key) or (not sep and operator != "~"):
        raise OverrideError(
            f"bad override '{_shown(text)}': expected --ID=VALUE, e.g. --trainer#max_epochs=10",
            location=COMMAND_LINE,
        )
    id_ = normalize_id(key)
    if id_.count("#") >= MAX_DEPTH:  # as deep as a file may nest: deeper would overflow every later walk
        raise OverrideError(
            f"bad override: the id is {id_.count('#') + 1:,} keys deep (at most {MAX_DEPTH})",
            id=short_id(id_),
            location=COMMAND_LINE,
        )
    if operator == "~":
        if raw.strip() not in _NULLS:
            raise OverrideError(
                f"'--~{id_}' deletes the key and takes no value, got '{raw}'",
                id=id_,
                location=COMMAND_LINE,
                suggestion=f"write --~{id_} to delete it, or --{id_}={raw} to set it",
            )
        return f"~{id_}", None
    if raw.startswith("="):
        fixed = raw.lstrip("=")
        raise OverrideError(
            f"bad value in override '{_shown(text)}': the value starts with '='",
            id=id_,
            location=COMMAND_LINE,
            suggestion=f"did you mean --{operator}{id_}={fixed}? (quote a string that starts with '=': "
            f"--{id_}='\"{raw}\"')",
        )
    if raw.startswith(("$", "@", "%")):
        return operator + id_, raw
    try:
        return operator + id_, load_value(raw)
    except ConfigSyntaxError as e:
        raise OverrideError(
            f"bad value in override '{_shown(text)}': {e.message}",
            id=id_,
            location=COMMAND_LINE,
            suggestion=e.suggestion or "quote it to pass a string, e.g. --id='\"text\"'",
        ) from e


def join_separated(args: Sequence[str]) -> list[str]:
    """Join ``--id VALUE`` pairs (a space instead of ``=``, as most CLIs allow) into ``--id=VALUE``.

    A ``--id`` without ``=`` takes the next argument as its value unless that is another ``--``
    option; ``--~id`` (a deletion) never takes one.
    """
    out: list[str] = []
    i = 0
    while i < len(args):
        item = args[i]
        body = item[2:] if item.startswith("--") else ""
        bare = body[1:] if body[:1] in OPERATORS else body
        takes_value = bool(bare) and "=" not in bare and not body.startswith("~")
        if takes_value and i + 1 < len(args) and not args[i + 1].startswith("--"):
            out.append(f"{item}={args[i + 1]}")
            i += 2
        else:
            out.append(item)
            i += 1
    return out


def parse_overrides(items: Iterable[str] | Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Parse CLI strings (or take a mapping ``id -> value`` as is) into ``(id, value)`` pairs.

    CLI strings may separate an id from its value by a space (two items); see :func:`join_separated`.
    """
    if isinstance(items, Mapping):
        return [(normalize_id(k), v) for k, v in items.items()]
    if isinstance(items, str):
        items = [items]
    return [parse_override(item) for item in join_separated(list(items))]


def apply_override(
    config: dict, locations: Locations, id_: str, value: Any, *, check_targets: bool = True
) -> list[str]:
    """Apply one override to ``config`` (in place), creating missing dicts along the way.

    The operators are :func:`lighter.config.merge.apply_key`'s, as in files, except that a plain
    ``--id=VALUE`` sets the value instead of merging a dict into it; the typo checks of new and
    deleted keys are the command line's own.

    Args:
        config: The raw config.
        locations: Its locations; the overridden ids become ``command line``.
        id_: The id, possibly with a ``+``/``=``/``~`` prefix (see the module docstring).
        value: The value (ignored by ``~``; copied, so the caller's stays untouched).
        check_targets: Check a new key against its component's target right away (this imports
            the target). When false, the ids of such new keys are returned for
            :func:`check_new_keys`.

    Returns:
        The new keys whose target check was put off.

    Raises:
        OverrideError: The path runs through a scalar, a list index is out of range, a new key is
            probably a typo (with the suggestion), or ``+`` meets a value of another kind.
    """
    operator = id_[0] if id_[:1] in OPERATORS else ""
    if not split_id(id_[len(operator) :]):
        raise OverrideError("an override needs an id, e.g. --trainer#max_epochs=10", location=COMMAND_LINE)
    unchecked: list[str] = []

    def new_key(node: Any, node_id: str, key: str) -> None:
        if _check_new_key(node, node_id, key, check_targets):
            unchecked.append(join_id(node_id, key))

    apply_key(
        config,
        "",
        id_,
        copy_tree(value),
        locations,
        _EVERY_ID_ON_THE_COMMAND_LINE,
        "",
        merge_dicts=False,
        wording=_COMMAND_LINE_WORDING,
        on_new_key=new_key,
        on_nothing_to_delete=_check_deleted_key,
    )
    return unchecked


class _CommandLine(dict):
    """Locations of an override's value: every id in it was written on the command line."""

    def get(self, key: Any, default: Any = None) -> Any:  # noqa: ARG002 - dict's signature
        return COMMAND_LINE


_EVERY_ID_ON_THE_COMMAND_LINE = _CommandLine()


class _CommandLineWording(Wording):
    """The operators' problems, worded as the override the user typed."""

    def through_scalar(
        self, name: str, full: str, holder: str, kind: str, where: Location | None
    ) -> LighterError:
        return OverrideError(
            f"cannot override '{full}': '{holder}' holds a {kind}, not a dict or list",
            id=full,
            location=COMMAND_LINE,
        )

    def no_item(
        self, name: str, full: str, list_id: str, size: int, key: Any, where: Location | None
    ) -> LighterError:
        return OverrideError(
            f"cannot override '{full}': '{list_id}' is a list of {size} items, it has no item {key}",
            id=full,
            location=COMMAND_LINE,
        )

    def plus_mismatch(
        self, last: Any, full: str, value: Any, existing: Any, where: Location | None
    ) -> LighterError:
        return OverrideError(
            f"'--+{full}' merges a dict into a dict or a list into a list, not a {type(value).__name__} "
            f"into a {type(existing).__name__}",
            id=full,
            location=COMMAND_LINE,
            suggestion=f"write --{full}=... to replace it",
        )


_COMMAND_LINE_WORDING = _CommandLineWording()


def check_new_keys(config: dict, new_ids: Iterable[str]) -> None:
    """Check keys created by overrides against their component's target (imports the targets).

    Raises:
        OverrideError: A new key the target does not take (with the closest argument it does).
    """
    for id_ in new_ids:
        keys = split_id(id_)
        node: Any = config
        for key in keys[:-1]:
            found = container_key(node, key)
            node = node[found] if found is not None else None
        if isinstance(node, dict) and keys[-1] in node:
            others = {k: v for k, v in node.items() if k != keys[-1]}
            _check_key(others, "#".join(keys[:-1]), keys[-1])


def _check_deleted_key(node: Any, node_id: str, key: str) -> None:
    """Deleting an absent key is fine (a file may lack it), unless a sibling is that close."""
    near = closest(key, [str(k) for k in node], cutoff=_TYPO_CUTOFF) if isinstance(node, dict) else []
    if near:
        raise OverrideError(
            f"'--~{join_id(node_id, key)}' deletes nothing: there is no key '{key}'",
            id=join_id(node_id, key),
            location=COMMAND_LINE,
            suggestion=f"did you mean '--~{join_id(node_id, near[0])}'?",
        )


def _check_new_key(node: dict, node_id: str, key: str, check_targets: bool) -> bool:
    """Raise if creating ``key`` in ``node`` is probably a typo (see the module docstring).

    Returns:
        Whether the check was put off: ``check_targets`` is false and ``node`` has a dotted
        ``_target_``, whose signature decides (a sibling close in spelling may be another argument).
    """
    here = join_id(node_id, key)
    if "." in key and key.split(".")[0] in node:  # `--trainer.max_epochs=1`: Hydra's and LightningCLI's habit
        raise OverrideError(
            f"override creates a new key '{key}'; ids join keys with '#', not '.'",
            id=here,
            location=COMMAND_LINE,
            suggestion=f"did you mean '{join_id(node_id, key.replace('.', '#'))}'?",
        )
    if _has_dotted_target(node) and not check_targets:
        # The target's signature decides later (it needs an import). A key one letter away from an
        # existing sibling (`max_epoch` beside `max_epochs`) is a typo whatever the signature says
        # in practice, so it is reported now, before anything heavy is imported.
        near = closest(key, [str(k) for k in node], cutoff=_SURE_TYPO)
        if near:
            raise _sibling_typo(node_id, key, near[0])
        return True
    _check_key(node, node_id, key)
    return False


def _check_key(node: dict, node_id: str, key: str) -> None:
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
        raise _sibling_typo(node_id, key, near[0])


def _sibling_typo(node_id: str, key: str, sibling: str) -> OverrideError:
    return OverrideError(
        f"override creates a new key '{key}' next to the existing '{sibling}'",
        id=join_id(node_id, key),
        location=COMMAND_LINE,
        suggestion=f"did you mean '{join_id(node_id, sibling)}'?",
    )


def _has_dotted_target(node: dict) -> bool:
    target = node.get("_target_")
    return isinstance(target, str) and "." in target and not target.startswith(("$", "@", "%"))


def _target_arguments(node: dict, node_id: str) -> list[str] | None:
    """Names a new key of ``node`` may take: its target's arguments plus the reserved keys.

    ``None`` when that cannot be known: no dotted ``_target_``, one that does not import, no
    readable signature, or ``**kwargs``. Only this path imports the target, so overrides stay cheap.
    """
    if not _has_dotted_target(node):
        return None
    from lighter.config.components import RESERVED_KEYS, locate

    try:
        params = inspect.signature(locate(node["_target_"], id=node_id, location=None)).parameters.values()
    except Exception:  # noqa: BLE001 - any failure here is reported, located, when the config is built
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    named = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return named + sorted(RESERVED_KEYS) + ["_debug_"]
