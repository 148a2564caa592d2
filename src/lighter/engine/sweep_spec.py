"""The ``sweep`` section of a config: read and checked as a whole (trial overrides: sweep_overrides).

Pure functions of the merged config (no Optuna, no torch), so a wrong sweep is reported, every
problem at once and located, before any trial starts::

    sweep:
      monitor: val/metrics/accuracy/epoch
      direction: maximize
      trials: 20
      params:                       # a name for the results table -> the id it sets and its distribution
        lr: {id: system#optimizer#lr, log_uniform: [1.0e-5, 1.0e-1]}
        batch_size: {id: vars#batch_size, choice: [16, 32, 64]}
      pruner: median                # or none, or {type: median, startup_trials: 5, warmup_steps: 0}
      sampler: tpe                  # or random, or grid (every combination of choice/int_uniform params once)
      storage: null                 # default: sqlite file in the sweep folder; or a database URL
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lighter.config.ids import split_id
from lighter.config.overrides import apply_override
from lighter.engine.sweep_overrides import logger_placement
from lighter.errors import ConfigError, LighterError, OverrideError, ValidationError, closest, did_you_mean

__all__ = [
    "DISTRIBUTIONS",
    "SAMPLERS",
    "Param",
    "SweepSpec",
    "grid_values",
    "parse_sweep",
    "space_size",
]

DISTRIBUTIONS = ("uniform", "log_uniform", "int_uniform", "choice")
"""``uniform``/``log_uniform``: floats in ``[low, high]``; ``int_uniform``: integers; ``choice``: one of a list."""

_KEYS = (
    "monitor",
    "direction",
    "trials",
    "params",
    "pruner",
    "storage",
    "name",
    "folder",
    "seed",
    "start_with",
    "folder_ids",
    "sampler",
)
SAMPLERS = ("tpe", "random", "grid")
"""``tpe`` (Optuna's default), ``random``, or ``grid``: each combination of the params' values once."""

_GRID_LIMIT = 100_000  # an int range wider than this is no grid a sweep could run
_DIRECTIONS = ("maximize", "minimize")
_PRUNERS = ("median", "none")
_PRUNER_KEYS = ("type", "startup_trials", "warmup_steps")


@dataclass(frozen=True)
class Param:
    """One searched value: its name in the table, the config id it sets, and its distribution."""

    name: str
    id: str
    distribution: str
    values: tuple[Any, ...]  # (low, high) for the ranges, the options for ``choice``


@dataclass(frozen=True)
class SweepSpec:
    """A checked ``sweep`` section (see the module docstring)."""

    monitor: str
    direction: str
    trials: int
    params: tuple[Param, ...]
    name: str
    folder: Path
    storage: str | None = None
    pruner: str = "none"
    startup_trials: int = 5
    warmup_steps: int = 0
    seed: int | None = None
    start_with: tuple[dict[str, Any], ...] = ()
    folder_ids: tuple[str, ...] = field(default_factory=tuple)
    sampler: str = "tpe"
    logger_id: str | None = None  # a CSV/TensorBoard logger the trial's run folder is placed with
    default_logger: str | None = None  # the config leaves the logger to Lightning: this class is given


def grid_values(param: Param) -> tuple[Any, ...] | None:
    """Every value ``param`` can take: its choices, or each integer of an ``int_uniform`` range; ``None`` for floats."""
    if param.distribution == "choice":
        return param.values
    if param.distribution == "int_uniform":
        return tuple(range(param.values[0], param.values[1] + 1))
    return None


def space_size(params: tuple[Param, ...]) -> int | None:
    """How many different combinations ``params`` allow, ``None`` when a float range makes it endless."""
    size = 1
    for param in params:
        values = grid_values(param)
        if values is None:
            return None
        size *= len(set(map(json.dumps, values)))
    return size


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Problems:
    """Collects located problems of the sweep section, to raise them all at once."""

    def __init__(self, parser: Any) -> None:
        self.parser = parser
        self.found: list[LighterError] = []

    def add(self, id_: str, message: str, suggestion: str | None = None) -> None:
        location = self.parser.location(id_)
        if location is None:  # e.g. a whole param given on the command line: point at its parent
            location = self.parser.location(id_.rsplit("#", 1)[0])
        self.found.append(ConfigError(message, id=id_, location=location, suggestion=suggestion))


def _check_range(problems: _Problems, id_: str, distribution: str, values: Any) -> tuple[Any, ...] | None:
    if distribution == "choice":
        if not isinstance(values, list) or not values:
            problems.add(id_, "choice needs a non-empty list of values, e.g. [16, 32, 64]")
            return None
        if not all(v is None or isinstance(v, bool | int | float | str) for v in values):
            problems.add(
                id_, "choice values must be numbers, strings, booleans or null (use @ids for objects)"
            )
            return None
        return tuple(values)
    if not isinstance(values, list) or len(values) != 2 or not all(_number(v) for v in values):
        problems.add(id_, f"{distribution} needs [low, high], two numbers, got {values!r}")
        return None
    low, high = values
    if distribution == "int_uniform" and not (_int(low) and _int(high)):
        problems.add(id_, f"int_uniform needs two integers, got {values!r}", "use uniform for floats")
        return None
    if low == high:
        problems.add(
            id_, f"empty range [{low}, {high}]", "give low < high, or drop the param and set the value"
        )
        return None
    if low > high:
        problems.add(id_, f"inverted range [{low}, {high}]", f"did you mean [{high}, {low}]?")
        return None
    if distribution == "log_uniform" and low <= 0:
        problems.add(id_, f"log_uniform needs low > 0, got {low}", "use uniform for a range that includes 0")
        return None
    return (low, high)


def _check_id(problems: _Problems, param_id: str, target: Any) -> None:
    """A param's id must exist in the config, or be a new argument its component takes."""
    parser = problems.parser
    if not isinstance(target, str) or not target:
        problems.add(param_id, f"id must be a config id such as system#optimizer#lr, got {target!r}")
        return
    if target.split("#", 1)[0] == "sweep":
        problems.add(
            param_id, f"'{target}' is inside the sweep section; a param sets the experiment's values"
        )
        return
    if target in parser:
        return
    keys = split_id(target)
    parent_keys, leaf = keys[:-1], keys[-1]
    parent_id = "#".join(str(k) for k in parent_keys)
    if parent_keys and parent_id not in parser:
        # Point at the first missing level, with the keys that exist there.
        for depth in range(1, len(keys)):
            here = "#".join(str(k) for k in keys[:depth])
            if here not in parser:
                above = parser.get("#".join(str(k) for k in keys[: depth - 1]))
                siblings = [str(k) for k in above] if isinstance(above, Mapping) else []
                near = next(iter(closest(str(keys[depth - 1]), siblings)), None)
                prefix = "#".join(str(k) for k in keys[: depth - 1])
                suggestion = f"did you mean '{prefix + '#' if prefix else ''}{near}'?" if near else None
                problems.add(
                    param_id, f"'{target}' is not in the config ('{here}' does not exist)", suggestion
                )
                return
    parent = parser.get(parent_id) if parent_id else parser.config
    if not isinstance(parent, Mapping) or "_target_" not in parent:
        siblings = [str(k) for k in parent] if isinstance(parent, Mapping) else []
        near = next(iter(closest(str(leaf), siblings)), None)
        problems.add(
            param_id,
            f"'{target}' is not in the config",
            f"did you mean '{parent_id + '#' if parent_id else ''}{near}'?"
            if near
            else "add it to the config first",
        )
        return
    try:  # a new argument of a component: the override rules say whether its target takes it
        apply_override({"x": dict(parent)}, {}, f"x#{leaf}", None)  # on a copy: the config stays as it is
    except OverrideError as e:
        suggestion = e.suggestion.replace("'x#", f"'{parent_id}#") if e.suggestion else None
        problems.add(
            param_id,
            f"'{target}': {e.message.replace('override creates', 'the sweep would create')}",
            suggestion,
        )


def _check_params(problems: _Problems, params: Any) -> tuple[Param, ...]:
    if not isinstance(params, Mapping) or not params:
        problems.add(
            "sweep#params",
            "params must map names to {id: ..., <distribution>: ...}, e.g. lr: {id: system#optimizer#lr, log_uniform: [1.0e-5, 1.0e-1]}",
        )
        return ()
    found = []
    for name, entry in params.items():
        here = f"sweep#params#{name}"
        if not isinstance(entry, Mapping):
            problems.add(here, f"param '{name}' must be a mapping {{id: ..., <distribution>: ...}}")
            continue
        unknown = [k for k in entry if k != "id" and k not in DISTRIBUTIONS]
        for key in unknown:
            problems.add(
                f"{here}#{key}",
                f"unknown distribution '{key}'",
                did_you_mean(str(key), DISTRIBUTIONS) or f"one of: {', '.join(DISTRIBUTIONS)}",
            )
        given = [k for k in entry if k in DISTRIBUTIONS]
        if len(given) != 1:
            if not unknown:
                problems.add(
                    here,
                    f"param '{name}' needs exactly one distribution ({', '.join(DISTRIBUTIONS)}), got {len(given)}",
                )
            continue
        if "id" not in entry:
            problems.add(here, f"param '{name}' needs the config id it sets, e.g. id: system#optimizer#lr")
            continue
        _check_id(problems, f"{here}#id", entry["id"])
        values = _check_range(problems, f"{here}#{given[0]}", given[0], entry[given[0]])
        if values is not None and isinstance(entry["id"], str):
            found.append(Param(str(name), entry["id"], given[0], values))
    return tuple(found)


def _in_space(param: Param, value: Any) -> bool:
    if param.distribution == "choice":
        return value in param.values
    if param.distribution == "int_uniform" and not _int(value):
        return False
    return _number(value) and param.values[0] <= value <= param.values[1]


def _check_start_with(
    problems: _Problems, points: Any, params: tuple[Param, ...]
) -> tuple[dict[str, Any], ...]:
    if points is None:
        return ()
    if not isinstance(points, list) or not all(isinstance(p, Mapping) for p in points):
        problems.add("sweep#start_with", "start_with must be a list of {param name: value} to try first")
        return ()
    by_name = {p.name: p for p in params}
    for i, point in enumerate(points):
        for name, value in point.items():
            param = by_name.get(name)
            if param is None:
                problems.add(
                    f"sweep#start_with#{i}#{name}",
                    f"'{name}' is not a param of the sweep",
                    did_you_mean(str(name), by_name),
                )
            elif not _in_space(param, value):
                problems.add(
                    f"sweep#start_with#{i}#{name}",
                    f"{value!r} is outside {name}'s {param.distribution} {list(param.values)}",
                )
    return tuple(dict(p) for p in points)


def _check_pruner(problems: _Problems, pruner: Any) -> tuple[str, int, int]:
    options = pruner if isinstance(pruner, Mapping) else {"type": pruner if pruner is not None else "none"}
    kind = options.get("type", "median")
    for key in options:
        if key not in _PRUNER_KEYS:
            problems.add(
                f"sweep#pruner#{key}", f"unknown pruner option '{key}'", did_you_mean(str(key), _PRUNER_KEYS)
            )
    if kind not in _PRUNERS:
        where = "sweep#pruner#type" if isinstance(pruner, Mapping) else "sweep#pruner"
        problems.add(where, f"unknown pruner '{kind}'", did_you_mean(str(kind), _PRUNERS) or "median or none")
    counts = []
    for key, default in (("startup_trials", 5), ("warmup_steps", 0)):
        value = options.get(key, default)
        if not _int(value) or value < 0:
            problems.add(f"sweep#pruner#{key}", f"{key} must be an integer >= 0, got {value!r}")
            value = default
        counts.append(value)
    return str(kind), counts[0], counts[1]


def parse_sweep(parser: Any, name: str) -> SweepSpec:
    """Check the config's ``sweep`` section and return it as a :class:`SweepSpec`.

    Args:
        parser: The loaded config (a :class:`~lighter.config.ConfigParser`, overrides applied).
        name: The study name to use when the section gives none (the config file's stem).

    Raises:
        ValidationError: Every problem of the section, each located at its id.
    """
    section = parser.get("sweep")
    problems = _Problems(parser)
    if not isinstance(section, Mapping):
        problems.add(
            "sweep",
            "lighter sweep needs a sweep section: monitor, direction, trials and params",
            "see docs/sweeps.md",
        )
        raise ValidationError(problems.found)
    for key in section:
        if key not in _KEYS:
            problems.add(
                f"sweep#{key}",
                f"unknown key '{key}' in sweep",
                did_you_mean(str(key), _KEYS) or f"expected one of: {', '.join(_KEYS)}",
            )
    monitor = section.get("monitor")
    if not isinstance(monitor, str) or not monitor:
        problems.add("sweep#monitor", "monitor must name a logged value, e.g. val/metrics/accuracy/epoch")
    direction = section.get("direction")
    if direction not in _DIRECTIONS:
        problems.add(
            "sweep#direction",
            f"direction must be maximize or minimize, got {direction!r}",
            did_you_mean(str(direction), _DIRECTIONS) if direction is not None else None,
        )
    sampler = section.get("sampler", "tpe")
    if sampler not in SAMPLERS:
        problems.add(
            "sweep#sampler",
            f"unknown sampler {sampler!r}",
            did_you_mean(str(sampler), SAMPLERS) or f"one of: {', '.join(SAMPLERS)}",
        )
    params = _check_params(problems, section.get("params"))
    trials = section.get("trials")
    if sampler == "grid":
        for param in params:
            values = grid_values(param)
            if values is None:
                problems.add(
                    f"sweep#params#{param.name}",
                    f"a grid needs a finite set of values; {param.name} is a {param.distribution} range",
                    "give it as choice: [a, b, c]; int_uniform ranges are enumerated",
                )
            elif len(values) > _GRID_LIMIT:
                problems.add(f"sweep#params#{param.name}", f"{len(values)} values is too many for a grid")
        size = space_size(params) if params else None
        if trials is None and size is not None:
            trials = size  # the whole grid
    if not _int(trials) or trials < 1:
        problems.add(
            "sweep#trials",
            f"trials must be a positive integer (the total the study aims for), got {trials!r}",
        )
    pruner, startup, warmup = _check_pruner(problems, section.get("pruner"))
    storage = section.get("storage")
    if storage is not None and (not isinstance(storage, str) or "://" not in storage):
        problems.add(
            "sweep#storage",
            f"storage must be a database URL such as sqlite:///sweep.db or postgresql://host/db, got {storage!r}",
        )
    seed = section.get("seed")
    if seed is not None and not _int(seed):
        problems.add("sweep#seed", f"seed must be an integer, got {seed!r}")
    study = section.get("name", name)
    if not isinstance(study, str) or not study:
        problems.add("sweep#name", f"name must be a non-empty string, got {study!r}")
    folder = section.get("folder", f"sweeps/{study}")
    if not isinstance(folder, str) or not folder:
        problems.add("sweep#folder", f"folder must be a path, got {folder!r}")
    folder_ids = section.get("folder_ids") or []
    if not isinstance(folder_ids, list):
        problems.add(
            "sweep#folder_ids", "folder_ids must be a list of config ids that receive each trial's folder"
        )
        folder_ids = []
    for i, target in enumerate(folder_ids):
        _check_id(problems, f"sweep#folder_ids#{i}", target)
    start_with = _check_start_with(problems, section.get("start_with"), params)
    if problems.found:
        raise ValidationError(problems.found)
    logger_id, default_logger = logger_placement(parser)
    return SweepSpec(
        monitor=monitor,
        direction=direction,
        trials=trials,
        params=params,
        name=study,
        folder=Path(folder),
        storage=storage,
        pruner=pruner,
        startup_trials=startup,
        warmup_steps=warmup,
        seed=seed,
        start_with=start_with,
        folder_ids=tuple(folder_ids),
        sampler=sampler,
        logger_id=logger_id,
        default_logger=default_logger,
    )
