"""Structure validation of an experiment config (SPEC §2).

:func:`find_problems` is a pure function of the merged config (a plain dict) and a ``locate``
callable that says where an id was written; it returns every problem at once, so the user fixes
the config in one pass. :func:`validate_structure` raises them together as a
:class:`~lighter.errors.ValidationError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lighter.engine.module_kind import literal_kind
from lighter.engine.stages import METRIC_MODES, MODES, Stage
from lighter.errors import ConfigError, Location, ValidationError, did_you_mean

__all__ = [
    "TOP_LEVEL_KEYS",
    "SYSTEM_KEYS",
    "RESERVED_KEYS",
    "Locate",
    "is_reference",
    "find_problems",
    "validate_structure",
]

Locate = Callable[[str], "Location | None"]

TOP_LEVEL_KEYS = (
    "trainer",
    "system",
    "data",
    "args",
    "vars",
    "project",
    "_requires_",
    "_meta_",
    "seed",
    "sweep",
)
REQUIRED_KEYS = ("trainer", "system")
SYSTEM_KEYS = (
    "model",
    "criterion",
    "optimizer",
    "scheduler",
    "inferer",
    "metrics",
    "dataloaders",
    "adapters",
)
RESERVED_KEYS = ("_target_", "_args_", "_requires_", "_disabled_", "_mode_", "_desc_")
ADAPTER_KEYS = ("batch", "criterion", "metrics", "logging")
# system#<key> holds one entry per mode; metrics have no predict mode (there is no target).
_MODE_KEYS = {"dataloaders": MODES, "metrics": METRIC_MODES, "adapters": MODES}


def _nowhere(_: str) -> Location | None:
    return None


def is_reference(value: Any) -> bool:
    """A ``@``/``%``/``$`` string stands for a value whose keys cannot be checked before it is built."""
    return isinstance(value, str) and value[:1] in ("@", "%", "$")


def _unknown(key: str, parent: str, valid: tuple[str, ...], what: str, locate: Locate) -> ConfigError:
    child = f"{parent}#{key}" if parent else str(key)
    where = f" in {parent}" if parent else ""
    return ConfigError(
        f"unknown {what} '{key}'{where}",
        id=child,
        location=locate(child),
        suggestion=did_you_mean(str(key), valid) or f"expected one of: {', '.join(valid)}",
    )


def _not_a(id_: str, value: Any, expected: str, locate: Locate) -> ConfigError:
    return ConfigError(
        f"{id_} must be {expected}, got {type(value).__name__} {value!r}", id=id_, location=locate(id_)
    )


def _check_modes(config: Mapping[str, Any], locate: Locate) -> list[ConfigError]:
    problems: list[ConfigError] = []
    for part, modes in _MODE_KEYS.items():
        value = config.get(part)
        part_id = f"system#{part}"
        if value is None or is_reference(value) or (isinstance(value, Mapping) and "_target_" in value):
            continue  # absent, or built by a reference/component: nothing to check before building
        if not isinstance(value, Mapping):
            problems.append(_not_a(part_id, value, f"a mapping of modes ({', '.join(modes)})", locate))
            continue
        for mode, entry in value.items():
            if mode not in modes and mode not in RESERVED_KEYS:
                problems.append(_unknown(mode, part_id, modes, "mode", locate))
            elif part == "adapters" and isinstance(entry, Mapping) and "_target_" not in entry:
                problems += [
                    _unknown(key, f"{part_id}#{mode}", ADAPTER_KEYS, "adapter", locate)
                    for key in entry
                    if key not in ADAPTER_KEYS and key not in RESERVED_KEYS
                ]
    return problems


def _check_system(system: Any, locate: Locate) -> list[ConfigError]:
    if is_reference(system):
        return []
    if not isinstance(system, Mapping):
        return [_not_a("system", system, "a mapping (a LightningModule component)", locate)]
    if literal_kind({"system": system}) is None:
        # Another target: the user's own LightningModule (its arguments are checked against its
        # signature by the pre-flight), or a subclass of System, decided once the target imports.
        return []
    valid = SYSTEM_KEYS + RESERVED_KEYS
    problems = [_unknown(key, "system", SYSTEM_KEYS, "key", locate) for key in system if key not in valid]
    return problems + _check_modes(system, locate)


def _check_data(data: Any, locate: Locate) -> list[ConfigError]:
    if data is None or is_reference(data):
        return []
    if not isinstance(data, Mapping):
        return [_not_a("data", data, "a LightningDataModule component (a mapping with _target_)", locate)]
    if "_target_" not in data:
        return [
            ConfigError(
                "data needs a _target_: the LightningDataModule class to build",
                id="data",
                location=locate("data"),
                suggestion="e.g. data: {_target_: project.datamodules.MyData, batch_size: 32}",
            )
        ]
    return []


def _check_args(args: Any, locate: Locate) -> list[ConfigError]:
    if args is None or is_reference(args):
        return []
    if not isinstance(args, Mapping):
        return [_not_a("args", args, "a mapping of stage names to keyword arguments", locate)]
    stages = tuple(stage.value for stage in Stage)
    problems: list[ConfigError] = []
    for name, kwargs in args.items():
        if name not in stages:
            problems.append(_unknown(name, "args", stages, "stage", locate))
        elif kwargs is not None and not is_reference(kwargs) and not isinstance(kwargs, Mapping):
            problems.append(_not_a(f"args#{name}", kwargs, "a mapping of keyword arguments", locate))
    return problems


def find_problems(config: Any, locate: Locate = _nowhere, sweep: bool = False) -> list[ConfigError]:
    """Return every structural problem of ``config``, in the order they appear.

    Args:
        config: The merged config (after overrides), a plain dict; it is not modified.
        locate: Returns where an id was written (e.g. ``ConfigParser.location``).
        sweep: Whether a ``sweep`` section is allowed (only ``lighter sweep`` reads it; a trial it
            runs sets ``sweep: null``).

    Returns:
        One :class:`~lighter.errors.ConfigError` per problem, each with its id and location.
    """
    if not isinstance(config, Mapping):
        return [_not_a("the config", config, "a mapping with trainer and system", locate)]
    problems = [
        _unknown(key, "", TOP_LEVEL_KEYS, "top-level key", locate)
        for key in config
        if key not in TOP_LEVEL_KEYS
    ]
    for key in REQUIRED_KEYS:
        if config.get(key) is None:
            problems.append(
                ConfigError(f"missing required top-level key '{key}'", id=key, location=locate(""))
            )
    if "system" in config and config["system"] is not None:
        problems += _check_system(config["system"], locate)
    problems += _check_data(config.get("data"), locate)
    problems += _check_args(config.get("args"), locate)
    seed = config.get("seed")
    if seed is not None and not is_reference(seed) and (isinstance(seed, bool) or not isinstance(seed, int)):
        problems.append(_not_a("seed", seed, "an integer", locate))
    if config.get("sweep") is not None and not sweep:
        problems.append(
            ConfigError(
                "the sweep section is read by `lighter sweep` only",
                id="sweep",
                location=locate("sweep"),
                suggestion="run `lighter sweep` with this config, or set --sweep=null to run this stage",
            )
        )
    project = config.get("project")
    if project is not None and not isinstance(project, str):
        problems.append(_not_a("project", project, "a path to a folder with __init__.py", locate))
    return problems


def validate_structure(config: Any, locate: Locate = _nowhere, sweep: bool = False) -> None:
    """Raise all problems of ``config`` at once (``sweep``: whether a ``sweep`` section is allowed).

    Raises:
        ValidationError: The config has at least one structural problem; ``errors`` lists them all.
    """
    problems = find_problems(config, locate, sweep)
    if problems:
        raise ValidationError(problems)
