"""What a stage needs and what it can drop, decided from the stage table before anything is built.

:func:`missing_parts` and :func:`plan_pruning` are pure functions of the merged config (a plain
dict); :func:`check_stage` and :func:`prune` apply them to a ``ConfigParser``. Pruning follows
references: a part that something still built refers to with ``@``/``$`` stays, and a ``%`` copy
of a pruned part (``val: "%#train"``) is inlined before its source goes. It works on a copy, so the
caller's config (which is what gets saved for reproducibility) is never touched.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from lighter.config.components import is_disabled
from lighter.config.ids import (
    SEP,
    expression_references,
    is_expression,
    is_macro,
    join_id,
    resolve_relative_ids,
    split_id,
    split_path_id,
    whole_reference,
)
from lighter.config.merge import container_key
from lighter.engine.module_kind import has_data, literal_kind
from lighter.engine.schema import Locate, is_reference
from lighter.engine.stages import Stage, stage_spec
from lighter.errors import StageError

__all__ = ["missing_parts", "check_stage", "plan_pruning", "pruned_ids", "prune"]

_OPTIONAL_PARTS = ("criterion", "optimizer", "scheduler", "inferer")
_MODE_PARTS = ("dataloaders", "metrics", "adapters")
# Top-level keys that are never built on their own: they matter only where something refers to them.
_FREE_KEYS = ("vars", "_meta_")
_ABSENT = object()


def _nowhere(_: str) -> None:
    return None


def _is_disabled(value: Any) -> bool:
    # Only a literal flag can be judged before building; an expression counts as enabled here.
    flag = value.get("_disabled_") if isinstance(value, Mapping) else None
    return flag is not None and not is_expression(flag) and is_disabled(flag)


def _lookup(config: Mapping[str, Any], id_: str) -> tuple[str, Any, bool]:
    """Walk ``id_`` down ``config``.

    Returns:
        ``(deepest existing id, its value, found)``; ``found`` is also true when an opaque value on
        the way (a reference or expression) makes the rest of the path unknowable before building.
    """
    value: Any = config
    walked: list[str] = []
    for key in id_.split(SEP):
        if walked and is_reference(value):
            return SEP.join(walked), value, True
        if not isinstance(value, Mapping) or value.get(key) is None or _is_disabled(value.get(key)):
            return SEP.join(walked), value, False
        value = value[key]
        walked.append(key)
    return id_, value, True


def _is_system(config: Mapping[str, Any], system: bool | None) -> bool:
    """``system`` as given, else judged from the literal target (only lighter.System has parts)."""
    return bool(literal_kind(config) if system is None else system)


def missing_parts(config: Mapping[str, Any], stage: Stage | str, system: bool | None = None) -> list[str]:
    """Return the ``system`` ids that ``stage`` needs but ``config`` does not define (or disables).

    Only a lighter.System has parts to need (``system``: whether it is one; ``None`` judges from
    its literal target); the user's own LightningModule brings its own steps and data. With
    ``data``, the dataloaders come from the DataModule.
    """
    if not _is_system(config, system):
        return []
    spec = stage_spec(stage)
    needs = [need for need in spec.needs if not (need.startswith("dataloaders#") and has_data(config))]
    return [f"system#{need}" for need in needs if not _lookup(config, f"system#{need}")[2]]


def _data_conflict(config: Mapping[str, Any], stage: Stage | str, locate: Locate) -> StageError | None:
    """``data`` and a System dataloader for one of the stage's modes: Lightning would use only one."""
    loaders = config["system"].get("dataloaders") if isinstance(config.get("system"), Mapping) else None
    if not has_data(config) or not isinstance(loaders, Mapping):
        return None
    spec = stage_spec(stage)
    both = [mode for mode in spec.modes if _lookup(config, f"system#dataloaders#{mode}")[2]]
    if not both:
        return None
    id_ = f"system#dataloaders#{both[0]}"
    return StageError(
        f"both data and {id_} give the '{Stage(stage).value}' stage its {both[0]} data; give one",
        id=id_,
        location=locate(id_),
        suggestion="with data, the DataModule's dataloaders are used and the System's ignored: "
        f"remove {id_}, or remove data",
    )


def check_stage(
    config: Mapping[str, Any], stage: Stage | str, locate: Locate = _nowhere, system: bool | None = None
) -> None:
    """Raise if ``stage`` cannot run with ``config``.

    Args:
        system: Whether ``system`` is a lighter.System (``None``: judged from its literal target;
            the System-only checks are skipped for any other LightningModule).

    Raises:
        StageError: Naming the first missing id (and listing the others), located at the deepest
            part of it that the config does define; or naming both ``data`` and a System
            dataloader the stage would use.
    """
    if not _is_system(config, system):
        return
    conflict = _data_conflict(config, stage, locate)
    if conflict is not None:
        raise conflict
    missing = missing_parts(config, stage, system)
    if not missing:
        return
    first = missing[0]
    parent = _lookup(config, first)[0]
    also = f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else ""
    raise StageError(
        f"stage '{Stage(stage).value}' needs {first}, which the config does not define{also}",
        id=first,
        location=locate(parent) if parent else locate(""),
    )


def _unused_ids(config: Mapping[str, Any], stage: Stage, is_system: bool) -> list[str]:
    """Ids the stage has no use for, judged by the stage table alone (references aside).

    The parts of a lighter.System only: every argument of the user's own module stays.
    """
    spec = stage_spec(stage)
    args = config.get("args")
    ids_ = [f"args#{name}" for name in args if name != stage.value] if isinstance(args, Mapping) else []
    system = config.get("system")
    if not isinstance(system, Mapping) or not is_system:
        return ids_
    ids_ += [f"system#{part}" for part in _OPTIONAL_PARTS if part in system and part not in spec.parts]
    for part in _MODE_PARTS:
        modes = system.get(part)
        if not isinstance(modes, Mapping):
            continue
        named = [mode for mode in modes if not str(mode).startswith("_")]
        unused = [mode for mode in named if mode not in spec.modes]
        if unused and len(unused) == len(named):
            ids_.append(f"system#{part}")  # nothing left: let the System use its default
        else:
            ids_ += [f"system#{part}#{mode}" for mode in unused]
    return ids_


def _within(id_: str, top: str) -> bool:
    return id_ == top or id_.startswith(top + SEP)


def _get(config: Any, id_: str) -> Any:
    value = config
    for key in split_id(id_):
        found = container_key(value, key)
        if found is None:
            return _ABSENT
        value = value[found]
    return value


class _Scan:
    """One pass over what the pruned config still builds: its references, and the macros to inline.

    A ``%`` macro copies raw config, so a macro whose source is pruned is replaced by a copy of that
    source (relative ids inside it still pointing where they pointed); an ``@``/``$`` reference
    needs the built object, so whatever it names must be kept. ``vars`` (and ``_meta_``) count
    only where something that is built refers to them.
    """

    def __init__(self, config: Mapping[str, Any], pruned: list[str]) -> None:
        self.config = config
        self.pruned = pruned
        self.refs: list[str] = []
        self.inline: dict[str, Any] = {}
        self.visited: set[str] = set()

    def run(self) -> _Scan:
        for key, value in self.config.items():
            if key not in _FREE_KEYS:
                self.visit(value, str(key))
        done = 0
        while done < len(self.refs):  # follow references into vars, which grow the list
            ref = self.refs[done]
            done += 1
            if any(_within(ref, key) for key in _FREE_KEYS) and ref not in self.visited:
                self.visited.add(ref)
                found = _get(self.config, ref)
                if found is not _ABSENT:
                    self.visit(found, ref)
        return self

    def is_pruned(self, id_: str) -> bool:
        return any(_within(id_, top) for top in self.pruned)

    def visit(self, value: Any, id_: str) -> None:
        if self.is_pruned(id_):
            return
        if isinstance(value, Mapping | list):
            for key, item in value.items() if isinstance(value, Mapping) else enumerate(value):
                self.visit(item, join_id(id_, key))
        elif isinstance(value, str):
            self.text(value, id_, id_, ())

    def text(self, value: str, source: str, site: str, expanding: tuple[str, ...]) -> Any:
        """Record the references of a string written at ``source``; return a pruned macro's copy."""
        if value[:1] not in ("@", "$", "%") and "@" not in value:
            return value
        try:
            text = resolve_relative_ids(value, source)
        except ValueError:
            return value  # the config engine reports it with its location
        if is_macro(text):
            path, target = split_path_id(text[1:])
            source_value = _get(self.config, target) if not path else _ABSENT
            if source_value is not _ABSENT and self.is_pruned(target) and target not in expanding:
                expanded = self.copy(source_value, target, site, (*expanding, target))
                if not expanding:  # a macro written in the kept config: replace it there
                    self.inline[site] = expanded
                return expanded
            if not path:
                self.refs.append(target)
            return text
        if is_expression(text):
            self.refs += expression_references(text)
        elif whole_reference(text) is not None:
            self.refs.append(whole_reference(text))
        return text

    def copy(self, value: Any, source: str, site: str, expanding: tuple[str, ...]) -> Any:
        if isinstance(value, Mapping):
            return {k: self.copy(v, join_id(source, k), site, expanding) for k, v in value.items()}
        if isinstance(value, list):
            return [self.copy(v, join_id(source, i), site, expanding) for i, v in enumerate(value)]
        return self.text(value, source, site, expanding) if isinstance(value, str) else copy.deepcopy(value)


def plan_pruning(
    config: Mapping[str, Any], stage: Stage | str, system: bool | None = None
) -> tuple[list[str], dict[str, Any]]:
    """Decide what to drop so that building ``config`` for ``stage`` builds only what it uses.

    Parts the stage has no use for (e.g. the optimizer for ``test``), the other modes'
    dataloaders, metrics and adapters, and the other stages' ``args`` go, unless something that is
    still built refers to them with ``@``/``$``; a mode mapping left empty goes as a whole, so the
    System gets its default instead of an empty dict. Only a lighter.System's parts are pruned
    (``system``: whether it is one; ``None`` judges from its literal target).

    Returns:
        ``(ids to delete, {id: value})``: the values replace ``%`` macros whose source is deleted.
    """
    pruned = _unused_ids(config, Stage(stage), _is_system(config, system))
    while True:
        scan = _Scan(config, pruned).run()
        needed = {top for top in pruned if any(_within(ref, top) for ref in scan.refs)}
        if not needed:
            return pruned, scan.inline
        pruned = [top for top in pruned if top not in needed]


def pruned_ids(config: Mapping[str, Any], stage: Stage | str, system: bool | None = None) -> list[str]:
    """Return the ids :func:`prune` deletes for ``stage`` (see :func:`plan_pruning`)."""
    return plan_pruning(config, stage, system)[0]


def prune(parser: Any, stage: Stage | str, system: bool | None = None) -> Any:
    """Return a copy of ``parser`` holding only what ``stage`` builds; ``parser`` is left as it was."""
    delete, inline = plan_pruning(parser.config, stage, system)
    pruned = parser.copy()
    for id_, value in inline.items():
        pruned[id_] = value
    for id_ in delete:
        del pruned[id_]
    return pruned
