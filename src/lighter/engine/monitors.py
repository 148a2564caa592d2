"""Catch a ``monitor`` that names a value the stage never logs, before anything is built.

A ``ModelCheckpoint(monitor: val/loss/epoch)`` in a config without val data trains to the end and
keeps no best checkpoint, with one Lightning warning buried in the output; an ``EarlyStopping`` or
a scheduler's ``monitor`` fails only after the first epoch. :func:`monitor_problems` reads the
names :class:`lighter.System` logs (see :mod:`lighter._system.log_names`) from the config alone
and reports each monitor that cannot match one, at its id, with the names that will be logged.

Only what is certain is judged: the mode (``val/`` needs val data), the kind (``loss``,
``metrics`` or ``optimizer``), the ``step``/``epoch`` ending, and metric names where the config
spells them (a dict's keys, or torchmetrics classes). A subclass of ``lighter.System`` may log
names of its own, so only its modes are checked; a LightningModule of the user's is not checked.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from lighter.engine.schema import is_reference
from lighter.engine.stages import Stage
from lighter.errors import ConfigError, LighterError, Location, closest

__all__ = ["logged_names", "monitor_problems"]

_MONITORING = ("ModelCheckpoint", "EarlyStopping")
_WHEN = ("step", "epoch")
_SYSTEM = "lighter.System"


def _system_kind(target: Any) -> str | None:
    """``"system"`` for lighter.System, ``"subclass"`` for a subclass of it, else ``None``."""
    if target in (_SYSTEM, "lighter.system.System"):
        return "system"
    if not isinstance(target, str) or is_reference(target) or "." not in target:
        return None
    module, _, name = target.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
        from lighter.system import System
    except Exception:  # noqa: BLE001 - a target that does not import is reported by its own check
        return None
    return "subclass" if isinstance(cls, type) and issubclass(cls, System) else None


def _modes(parser: Any, stage: Stage) -> list[str]:
    """The modes whose values ``stage`` logs: fit logs train, and val when there is val data."""
    if stage is not Stage.FIT:
        return []
    loaders = parser.get("system#dataloaders")
    loaders = loaders if isinstance(loaders, Mapping) else {}
    return ["train"] + (["val"] if loaders.get("val") is not None else [])


def _metric_names(parser: Any, mode: str) -> list[str] | None:
    """The metric names ``mode`` logs (as MetricCollection names them), ``None`` when not knowable here."""
    raw = parser.get(f"system#metrics#{mode}")
    if raw is None:
        return []
    if isinstance(raw, Mapping) and "_target_" not in raw:
        return [str(key) for key in raw]
    items = raw if isinstance(raw, list) else [raw]
    names = []
    for item in items:
        target = item.get("_target_") if isinstance(item, Mapping) else None
        if not isinstance(target, str) or not target.startswith("torchmetrics.") or "wrappers" in target:
            return None  # a collection, a wrapper or an expression: its names show only once built
        name = target.rpartition(".")[2]
        if name == "MetricCollection":
            return None
        task = item.get("task")
        # torchmetrics' task classes build e.g. MulticlassAccuracy, the name MetricCollection uses.
        names.append(
            f"{task.capitalize()}{name}" if isinstance(task, str) and not is_reference(task) else name
        )
    return names


def logged_names(parser: Any, stage: Stage) -> tuple[list[str], dict[str, list[str] | None]]:
    """The names ``stage`` logs, and per mode its metric names (``None``: unknown before building)."""
    names: list[str] = []
    metrics: dict[str, list[str] | None] = {}
    for mode in _modes(parser, stage):
        names += [f"{mode}/loss/{when}" for when in _WHEN]
        metrics[mode] = _metric_names(parser, mode)
        names += [f"{mode}/metrics/{metric}/{when}" for metric in metrics[mode] or [] for when in _WHEN]
    optimizer = parser.get("system#optimizer#_target_")
    if "train" in metrics and isinstance(optimizer, str) and not is_reference(optimizer):
        names.append(f"train/optimizer/{optimizer.rpartition('.')[2]}/lr")
    return names, metrics


def _monitors(parser: Any) -> list[tuple[str, str, str]]:
    """``(id, what, monitor)`` of every literal monitor: checkpoint/early-stopping callbacks, the scheduler."""
    found = []
    callbacks = parser.get("trainer#callbacks")
    for index, callback in enumerate(callbacks if isinstance(callbacks, list) else []):
        target = callback.get("_target_") if isinstance(callback, Mapping) else None
        name = target.rpartition(".")[2] if isinstance(target, str) else ""
        if name in _MONITORING and isinstance(callback.get("monitor"), str):
            found.append((f"trainer#callbacks#{index}#monitor", name, callback["monitor"]))
    scheduler = parser.get("system#scheduler")
    if (
        isinstance(scheduler, Mapping)
        and "scheduler" in scheduler
        and isinstance(scheduler.get("monitor"), str)
    ):
        found.append(("system#scheduler#monitor", "the scheduler", scheduler["monitor"]))
    return [(id_, what, monitor) for id_, what, monitor in found if not is_reference(monitor)]


def _why_not(
    monitor: str, stage: Stage, names: list[str], metrics: dict[str, list[str] | None], exact: bool
) -> str | None:
    """Why ``monitor`` is never logged, or ``None`` when it may be."""
    if monitor in ("epoch", "step"):  # Lightning offers these to every monitor
        return None
    parts = monitor.split("/")
    mode = parts[0]
    if mode not in ("train", "val", "test", "predict"):
        return None if not exact else f"lighter.System logs no value named '{monitor}'"
    if mode not in metrics:
        if mode == "val":
            return f"{stage.value} has no val data (system#dataloaders#val), so no val/ value is logged"
        return f"{stage.value} logs no {mode}/ values"
    if not exact:
        return None
    kind = parts[1] if len(parts) > 1 else ""
    if kind == "optimizer" and mode == "train":
        return None
    if kind not in ("loss", "metrics") or parts[-1] not in _WHEN or len(parts) < 3:
        return f"lighter.System logs no value named '{monitor}'"
    if kind == "metrics":
        known = metrics[mode]
        if known == []:
            return f"no {mode} metrics are configured (system#metrics#{mode})"
        if known is not None and (len(parts) != 4 or parts[2] not in known):
            return f"lighter.System logs no value named '{monitor}'"
    return None


def _line_of(parser: Any, id_: str) -> Location | str | None:
    """``file:line`` of ``id_`` (no column, as every other pre-flight problem shows it)."""
    found = parser.location(id_)
    return (
        Location(found.file, found.line) if isinstance(found, Location) and found.line is not None else found
    )


def monitor_problems(parser: Any, stage: Stage) -> list[LighterError]:
    """Every monitor of a ``lighter.System`` config that ``stage`` can never log, located at its id."""
    kind = _system_kind(parser.get("system#_target_"))
    if kind is None or "data" in parser.config:  # a datamodule's loaders show only once built
        return []
    names, metrics = logged_names(parser, stage)
    if not metrics:
        return []
    problems: list[LighterError] = []
    for id_, what, monitor in _monitors(parser):
        reason = _why_not(monitor, stage, names, metrics, exact=kind == "system")
        if reason is None:
            continue
        near = closest(monitor, names, n=1, cutoff=0.5)
        hint = f"did you mean '{near[0]}'? " if near else ""
        problems.append(
            ConfigError(
                f"{what} monitors '{monitor}', which {stage.value} never logs: {reason}",
                id=id_,
                location=_line_of(parser, id_),
                suggestion=f"{hint}{stage.value} logs: {', '.join(names)}",
            )
        )
    return problems
