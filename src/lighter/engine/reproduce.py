"""Make every run repeatable from its outputs: the seed, and the config saved with the results.

The merged config (after overrides, with the seed used) is put into the System's hyperparameters,
so Lightning stores it in every checkpoint and gives it to the loggers, and :class:`ConfigSaver`
writes it as ``config.yaml`` into the logger's run directory.
"""

from __future__ import annotations

import copy
import os
import random
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import yaml

__all__ = [
    "SEED_ENV",
    "CONFIG_FILE",
    "choose_seed",
    "shared_seed",
    "recorded_config",
    "ConfigSaver",
    "attach_config",
]

SEED_ENV = "LIGHTER_SEED"
"""Carries a drawn seed to the child processes a multi-process strategy launches."""

CONFIG_FILE = "config.yaml"

# seed_everything accepts unsigned 32-bit seeds; stay in the signed range to be safe everywhere.
_MAX_SEED = 2**31 - 1


def choose_seed(configured: int | None, environ: Mapping[str, str] = os.environ) -> int:
    """Return the seed to use: the configured one, else the one a parent process drew, else a new one.

    Child processes of a DDP launch re-run the same command line; they find the parent's draw in
    ``environ`` and so seed exactly like it.
    """
    if configured is not None:
        return int(configured)
    inherited = environ.get(SEED_ENV, "").strip()
    if inherited.isdigit():
        return int(inherited)
    return random.SystemRandom().randint(0, _MAX_SEED)


@contextmanager
def shared_seed(seed: int, environ: MutableMapping[str, str] = os.environ) -> Iterator[None]:
    """Expose ``seed`` to child processes launched inside the block, and restore ``environ`` after."""
    previous = environ.get(SEED_ENV)
    environ[SEED_ENV] = str(seed)
    try:
        yield
    finally:
        if previous is None:
            environ.pop(SEED_ENV, None)
        else:
            environ[SEED_ENV] = previous


def recorded_config(config: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Return a plain deep copy of ``config`` with ``seed`` set, the config that reproduces the run."""
    recorded = copy.deepcopy(dict(config))
    recorded["seed"] = seed
    return recorded


class ConfigSaver(pl.Callback):
    """Write the run's config as ``config.yaml`` into the logger's run directory (rank 0 only).

    Runs at ``setup``, once the processes of a multi-process strategy exist: ``trainer.log_dir``
    is a collective call there, so every rank asks and only rank 0 writes.

    Args:
        config: The config to write (a plain dict).
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        log_dir = trainer.log_dir
        if not trainer.is_global_zero or not trainer.loggers or log_dir is None:
            return  # without a logger there is no run directory to write into
        path = Path(log_dir) / CONFIG_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.config, sort_keys=False))


def attach_config(system: pl.LightningModule, trainer: pl.Trainer, config: dict[str, Any]) -> None:
    """Put ``config`` into ``system``'s hyperparameters and have ``trainer`` write it to its run directory.

    Lightning saves hyperparameters into every checkpoint (``hyper_parameters``) and logs them to
    every logger, so one call covers both.
    """
    system.save_hyperparameters(config)
    trainer.callbacks.append(ConfigSaver(config))
