"""Checking :class:`lighter.System`'s constructor arguments (dataloaders: see ``dataloaders``).

Each ``parse_*`` function appends every problem it finds to a shared list instead of raising, so
the System reports all of a config's mistakes at once; each returns the normalized part (or an
empty/``None`` stand-in when the part is unusable).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import torch
from torchmetrics import Metric, MetricCollection

from lighter.adapters import ArgumentAdapterLike, BatchAdapterLike, LoggingAdapterLike
from lighter.errors import AdapterError, LighterError, StageError, SystemError_, did_you_mean

__all__ = [
    "MODES",
    "ModeAdapters",
    "check_keys",
    "parse_adapters",
    "parse_metrics",
    "parse_scheduler",
]

MODES = ("train", "val", "test", "predict")
_METRIC_MODES = ("train", "val", "test")
_ADAPTER_KINDS = {
    "batch": BatchAdapterLike,
    "criterion": ArgumentAdapterLike,
    "metrics": ArgumentAdapterLike,
    "logging": LoggingAdapterLike,
}
# Keys Lightning reads from a scheduler dict.
_SCHEDULER_KEYS = ("scheduler", "interval", "frequency", "monitor", "strict", "name")


class ModeAdapters(NamedTuple):
    """The adapters of one mode; ``None`` means the default."""

    batch: Any = None
    criterion: Any = None
    metrics: Any = None
    logging: Any = None


def check_keys(
    given: Mapping[str, Any], allowed: tuple[str, ...], config_id: str, problems: list[LighterError]
) -> list[str]:
    """Report keys of ``given`` not in ``allowed`` (with a suggestion); return the allowed ones present."""
    known = []
    for key in given:
        if key in allowed:
            known.append(key)
        else:
            problems.append(
                SystemError_(
                    f"unknown key {key!r} (expected one of: {', '.join(allowed)})",
                    id=f"{config_id}#{key}",
                    suggestion=did_you_mean(str(key), allowed),
                )
            )
    return known


def parse_metrics(metrics: Any, problems: list[LighterError]) -> dict[str, MetricCollection]:
    """One :class:`MetricCollection` per mode from ``{mode: Metric | list | dict | MetricCollection}``."""
    collections: dict[str, MetricCollection] = {}
    if metrics is None:
        return collections
    if not isinstance(metrics, Mapping):
        problems.append(
            SystemError_("metrics must be a dict with keys train, val, test", id="system#metrics")
        )
        return collections
    for mode in check_keys(metrics, _METRIC_MODES, "system#metrics", problems):
        collection = _to_collection(metrics[mode], f"system#metrics#{mode}", problems)
        if collection is not None:
            collections[mode] = collection
    return collections


def _to_collection(value: Any, config_id: str, problems: list[LighterError]) -> MetricCollection | None:
    if value is None:
        return None
    if isinstance(value, MetricCollection):
        return value
    items = (
        list(value.values())
        if isinstance(value, Mapping)
        else value
        if isinstance(value, list | tuple)
        else [value]
    )
    bad = [type(m).__name__ for m in items if not isinstance(m, Metric | MetricCollection)]
    if bad or not items:
        problems.append(
            SystemError_(
                f"expected a torchmetrics Metric, a list or a dict of them (got {', '.join(bad) or 'nothing'})",
                id=config_id,
            )
        )
        return None
    # Steps call the collection's forward, which never uses compute groups: skip their bookkeeping.
    return MetricCollection(dict(value) if isinstance(value, Mapping) else list(items), compute_groups=False)


def parse_adapters(adapters: Any, problems: list[LighterError]) -> dict[str, ModeAdapters]:
    """The given adapters by mode, each checked against the protocol of its kind."""
    if adapters is None:
        return {}
    if not isinstance(adapters, Mapping):
        problems.append(SystemError_("adapters must be a dict of modes", id="system#adapters"))
        return {}
    parsed = {}
    for mode in check_keys(adapters, MODES, "system#adapters", problems):
        given = adapters[mode] or {}
        if not isinstance(given, Mapping):
            problems.append(SystemError_("expected a dict of adapters", id=f"system#adapters#{mode}"))
            continue
        kinds = check_keys(given, tuple(_ADAPTER_KINDS), f"system#adapters#{mode}", problems)
        for kind in kinds:
            if given[kind] is not None and not isinstance(given[kind], _ADAPTER_KINDS[kind]):
                problems.append(
                    AdapterError(
                        f"expected a {kind} adapter (got {type(given[kind]).__name__})",
                        id=f"system#adapters#{mode}#{kind}",
                    )
                )
        parsed[mode] = ModeAdapters(**{kind: given[kind] for kind in kinds})
    return parsed


def parse_scheduler(scheduler: Any, optimizer: Any, problems: list[LighterError]) -> Any:
    """The scheduler, or a copy of a Lightning scheduler dict (Lightning adds keys to it)."""
    if scheduler is None:
        return None
    if optimizer is None:
        problems.append(StageError("a scheduler needs an optimizer", id="system#optimizer"))
    if isinstance(scheduler, Mapping):
        check_keys(scheduler, _SCHEDULER_KEYS, "system#scheduler", problems)
        if "scheduler" not in scheduler:
            problems.append(SystemError_("a scheduler dict needs a 'scheduler' key", id="system#scheduler"))
        return dict(scheduler)
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        problems.append(
            SystemError_(
                "ReduceLROnPlateau needs a metric to monitor",
                id="system#scheduler",
                suggestion="give {scheduler: ..., monitor: val/loss/epoch}",
            )
        )
    return scheduler
