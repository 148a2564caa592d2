"""Make every run repeatable from its outputs: the seed, and the config saved with the results.

The merged config (after overrides, with the seed used) goes into every checkpoint (any
LightningModule; a System also takes it as its hyperparameters, which go to the loggers), and :func:`save_config`
writes it as ``config.yaml`` into the run folder (see :mod:`lighter.engine.run_folder`).
:class:`RandomState` makes a resumed fit draw the same random numbers as an unbroken one.
"""

from __future__ import annotations

import copy
import os
import random
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import yaml

from lighter.atomic import atomic_write, os_reason
from lighter.engine.launchers import Launch, agree
from lighter.errors import StageError

__all__ = [
    "SEED_ENV",
    "CONFIG_FILE",
    "choose_seed",
    "shared_seed",
    "recorded_config",
    "config_text",
    "save_config",
    "attach_config",
    "CHECKPOINT_KEY",
    "SavedConfig",
    "RandomState",
]

SEED_ENV = "PL_GLOBAL_SEED"
"""Carries the seed to the child processes Lightning's launcher starts (Lightning's own variable)."""

CONFIG_FILE = "config.yaml"

CHECKPOINT_KEY = "lighter_config"
"""The key of a checkpoint that holds the run's config (any LightningModule; see :class:`SavedConfig`)."""

# seed_everything accepts unsigned 32-bit seeds; stay in the signed range to be safe everywhere.
_MAX_SEED = 2**31 - 1


def choose_seed(
    configured: int | None, environ: Mapping[str, str] = os.environ, launch: Launch | None = None
) -> int:
    """Return the seed to use: the configured one, else the one a parent process drew, else a new one.

    Child processes of Lightning's DDP launcher re-run the same command line; they find the
    parent's seed in ``environ`` (``PL_GLOBAL_SEED``, as Lightning's ``seed_everything`` reads it).
    The ranks of an external ``launch`` (torchrun, SLURM) all take rank 0's draw; a group torchrun
    restarted takes its first attempt's.
    """
    if configured is not None:
        return int(configured)
    inherited = environ.get(SEED_ENV, "").strip()
    if inherited.isdigit():
        return int(inherited)
    return int(
        agree("seed", lambda: str(random.SystemRandom().randint(0, _MAX_SEED)), launch, across_restarts=True)
    )


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


def config_text(record: Mapping[str, Any], locate: Callable[[str], Any] | None = None) -> str:
    """Return the text of the run's ``config.yaml``: ``record`` as YAML, keys in the order written.

    The one place the saved config is rendered, so every copy (the run folder's, a resumed run's)
    reads the same. Given ``locate`` (``ConfigParser.location``), each value carries the comment
    ``lighter show`` prints, saying which file and line (or the command line) it came from.
    """
    if locate is None:
        return yaml.safe_dump(dict(record), sort_keys=False, allow_unicode=True)
    from lighter.config.render import render_config

    header = "# Saved by lighter: the merged config of this run; comments say where each value was written.\n"
    return header + render_config(dict(record), locate)


def save_config(folder: str | os.PathLike[str], record: Mapping[str, Any], text: str | None = None) -> Path:
    """Write ``record`` (as ``text`` when given) to ``folder/config.yaml`` atomically.

    A reader never sees half a file.

    Raises:
        StageError: The folder cannot be created or the file written (the OS reason is given).
    """
    path = Path(folder) / CONFIG_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write(path, config_text(record) if text is None else text)
    except OSError as error:
        raise StageError(f"cannot save the run's config to {path}: {os_reason(error)}") from error


def attach_config(system: pl.LightningModule, trainer: pl.Trainer, config: dict[str, Any]) -> None:
    """Make every checkpoint of ``trainer`` carry ``config``, whatever LightningModule ``system`` is.

    A :class:`SavedConfig` callback puts it under ``lighter_config`` in each checkpoint. A
    lighter.System also takes it as its hyperparameters, which Lightning saves too
    (``hyper_parameters``); the user's own module keeps its own hyperparameters untouched (its
    ``self.hparams`` are its business). The loggers get the config flat instead, one entry per
    value, whatever the module (:class:`lighter.engine.hparams.LogConfig`).
    """
    from lighter.system import System

    if isinstance(system, System):
        system.save_hyperparameters(config, logger=False)
    trainer.callbacks.append(SavedConfig(config))


class SavedConfig(pl.Callback):
    """Write the run's config into every checkpoint, under :data:`CHECKPOINT_KEY`.

    Args:
        config: The config that reproduces the run (plain YAML types, so ``torch.load`` with
            ``weights_only=True`` reads it back).
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict
    ) -> None:
        checkpoint[CHECKPOINT_KEY] = copy.deepcopy(dict(self.config))


class RandomState(pl.Callback):
    """Carry the random generators' state in checkpoints, so a resumed fit draws what an unbroken one would.

    Lightning restores weights, optimizer and loop counters but not the generators: a resumed run
    would shuffle its next epoch like the first one. The state is taken when a checkpoint is saved
    and put back when it is restored, before the loops start (Lightning skips the sanity check when
    resuming, and isolates its draws otherwise).
    """

    def state_dict(self) -> dict[str, Any]:
        import numpy as np
        import torch

        numpy_state = np.random.get_state(legacy=False)
        # Plain types and tensors only: checkpoints are read back with torch.load(weights_only=True).
        return {
            "python": random.getstate(),
            "numpy": {
                "key": torch.from_numpy(numpy_state["state"]["key"].astype("int64")),
                "pos": int(numpy_state["state"]["pos"]),
                "has_gauss": int(numpy_state["has_gauss"]),
                "gauss": float(numpy_state["gauss"]),
            },
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        import numpy as np
        import torch

        state = state_dict
        # Restored at once: the train loader's first iterator is made right after, from these.
        python = state["python"]
        random.setstate((python[0], tuple(python[1]), python[2]))
        numpy = state["numpy"]
        np.random.set_state(
            {
                "bit_generator": "MT19937",
                "state": {"key": numpy["key"].numpy().astype("uint32"), "pos": numpy["pos"]},
                "has_gauss": numpy["has_gauss"],
                "gauss": numpy["gauss"],
            }
        )
        torch.set_rng_state(state["torch"])
        if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state["cuda"])
