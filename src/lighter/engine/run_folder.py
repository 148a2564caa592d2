"""Every run in its own folder: checkpoints, ``config.yaml``, logs and plots of one run live together.

The run folder is:

- with a logger, the logger's version folder (``<save_dir>/<name>/version_<N>``), where Lightning
  already puts the logs and, by default, the checkpoints;
- without one (``logger: false``, or ``fast_dev_run``, which silences loggers), a fresh
  ``<default_root_dir>/runs/version_<N>``, created exclusively so that two runs started at once
  never share it;
- when a run is resumed (``lighter fit RUN_FOLDER``), that folder again.

Rank 0 decides and every other rank receives its answer, so all processes of a multi-process run
write to one folder (a per-process choice would differ: each would see the others' folders).
Checkpoint callbacks without an explicit ``dirpath`` are pointed at ``<run folder>/checkpoints``.
"""

from __future__ import annotations

import csv
import io
import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.utilities import rank_zero_only

from lighter.atomic import atomic_write, os_reason
from lighter.engine.reproduce import save_config
from lighter.errors import StageError

__all__ = [
    "RUNS",
    "CHECKPOINTS",
    "RunFolder",
    "fresh_folder",
    "logger_folder",
    "run_folder_of",
    "use_default_logger",
]

RUNS = "runs"
"""Folder under ``default_root_dir`` that holds the run folders of runs without a logger."""

CHECKPOINTS = "checkpoints"

_VERSION = re.compile(r"version_(\d+)")


def fresh_folder(root: str | os.PathLike[str]) -> Path:
    """Create and return ``root/runs/version_<N>`` with the lowest ``N`` above every existing one.

    ``mkdir`` without ``exist_ok`` is the lock: a run that loses the race takes the next number.

    Raises:
        StageError: The folder cannot be created (the OS reason is given).
    """
    parent = Path(root) / RUNS
    try:
        parent.mkdir(parents=True, exist_ok=True)
        numbers = [int(m[1]) for p in parent.iterdir() if (m := _VERSION.fullmatch(p.name))]
        number = max(numbers, default=-1) + 1
        while True:
            folder = parent / f"version_{number}"
            try:
                folder.mkdir()
                return folder
            except FileExistsError:
                number += 1
    except OSError as error:
        raise StageError(
            f"cannot create a run folder under {parent}: {os_reason(error)}", id="trainer#default_root_dir"
        ) from error


def use_default_logger(trainer: pl.Trainer, configured: Any) -> None:
    """Give a trainer whose config names no logger lighter's default: Lightning's ``CSVLogger``.

    Lightning's own default (no ``logger`` key, or ``logger: true``) is TensorBoard where
    ``tensorboard`` happens to be importable and CSV elsewhere, so one config would write
    ``metrics.csv`` on one machine and only event files on the next. Every run folder has its
    ``metrics.csv`` instead (``lighter runs plot`` reads it), in the folder Lightning would have
    used: ``<default_root_dir>/lightning_logs/version_<N>``. A logger the config names is kept.

    Args:
        trainer: The built Trainer.
        configured: The config's raw ``trainer#logger`` (``None`` when absent).
    """
    from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger
    from pytorch_lightning.plugins.environments import SLURMEnvironment

    if configured is not None and configured is not True:
        return
    if (
        trainer.fast_dev_run
        or len(trainer.loggers) != 1
        or not isinstance(trainer.loggers[0], TensorBoardLogger)
    ):
        return  # fast_dev_run silences loggers; a CSVLogger already is the default
    trainer.logger = CSVLogger(save_dir=trainer.default_root_dir, version=SLURMEnvironment.job_id())


def logger_folder(trainer: pl.Trainer) -> Path | None:
    """The first logger's version folder, as Lightning's ``ModelCheckpoint`` computes it; ``None`` without one."""
    from pytorch_lightning.loggers.logger import DummyLogger

    loggers = [logger for logger in trainer.loggers if not isinstance(logger, DummyLogger)]
    if not loggers:
        return None
    logger = loggers[0]
    save_dir = logger.save_dir if logger.save_dir is not None else trainer.default_root_dir
    version = logger.version
    version = version if isinstance(version, str) else f"version_{version}"
    return Path(save_dir) / str(logger.name) / version


def _absolute(path: str | os.PathLike[str]) -> Path:
    """``path`` made absolute without resolving links, so it reads as the user's folders do.

    Absolute so that a resumed run, started from anywhere, names its checkpoints exactly as the
    first part did (Lightning restores a checkpoint callback's state only for the same ``dirpath``).
    """
    return Path(os.path.abspath(path))


def _say(line: str) -> None:
    if rank_zero_only.rank == 0:
        print(line, flush=True)


class RunFolder(pl.Callback):
    """Decide the run folder, point checkpoints into it and save the run's config there (rank 0 writes).

    The folder is decided once, by :meth:`resolve`: from ``setup`` in a multi-process run (the
    processes exist and can agree by then), or by the runner before the stage in a single process
    (the tuner stages replace the Trainer's callbacks while they run, so ``setup`` would not come).

    Args:
        record: The config to save as ``config.yaml``.
        folder: The folder to use (a resumed run's); ``None`` decides a new one.
        text: The text to save (``config_text`` with provenance comments); ``None`` renders
            ``record`` plainly.
        output_of: The run folder that ``folder`` is an output sub-folder of, when a stage
            evaluates that run (:mod:`lighter.engine.evaluate`): ``folder`` then only receives
            the stage's config (its loggers were pointed there), checkpoints stay the run's.
    """

    def __init__(
        self,
        record: Mapping[str, Any],
        folder: str | os.PathLike[str] | None = None,
        text: str | None = None,
        output_of: str | os.PathLike[str] | None = None,
    ) -> None:
        self.record = record
        self.text = text
        self.output_of = _absolute(output_of) if output_of is not None else None
        self.resuming = folder is not None and output_of is None
        self.path: Path | None = _absolute(folder) if folder is not None else None
        self.resolved = False
        self.continued = False

    def continue_logger(self, trainer: pl.Trainer) -> None:
        """Point a resumed run's logger at its folder now, before Lightning creates its experiment.

        In a multi-process run Lightning opens every logger's folder just before ``setup``; a
        version set in :meth:`resolve` would come too late (the logs would go to a new version).
        """
        if self.resuming and self.path is not None and not self.continued:
            _continue_logger(trainer, self.path)
            if trainer.is_global_zero:
                _keep_csv_metrics(trainer)
            self.continued = True

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self.resolve(trainer)

    def resolve(self, trainer: pl.Trainer) -> Path:
        """Decide (once) the run folder of ``trainer``'s run and prepare it; return it."""
        if self.resolved and self.path is not None:
            return self.path
        if self.output_of is not None:
            pass  # an evaluation's output folder, decided and created already
        elif self.path is not None:
            self.continue_logger(trainer)
            # Continuing into this folder is the point; Lightning's warning that its checkpoint
            # folder "exists and is not empty" would read as a mistake.
            warnings.filterwarnings(
                "ignore", message=f"Checkpoint directory {re.escape(str(self.path / CHECKPOINTS))} exists"
            )
        else:
            folder = logger_folder(trainer)
            if folder is None and trainer.is_global_zero:
                folder = fresh_folder(trainer.default_root_dir)
            shared = trainer.strategy.broadcast(str(folder) if folder is not None else None)
            self.path = _absolute(shared)
            if trainer.is_global_zero and trainer.world_size > 1:
                from lighter.engine.launchers import detect_launch, remember

                remember("run-folder", str(self.path), detect_launch())  # for a torchrun restart
        checkpoints = (self.output_of or self.path) / CHECKPOINTS
        for callback in trainer.checkpoint_callbacks:
            if getattr(callback, "dirpath", "") is None:  # an explicit dirpath is the user's choice
                callback.dirpath = str(checkpoints)
        if trainer.is_global_zero:
            if not self.resuming:
                _open_logger(trainer)
            self.path.mkdir(parents=True, exist_ok=True)
            save_config(self.path, self.record, self.text)
        self.resolved = True
        _say(f"{'Output' if self.output_of is not None else 'Run'} folder: {self.path}")
        return self.path


def run_folder_of(trainer: pl.Trainer) -> Path | None:
    """The run folder lighter chose for ``trainer``, or ``None`` when it has not been decided."""
    for callback in trainer.callbacks:
        if isinstance(callback, RunFolder) and callback.resolved:
            return callback.path
    return None


def _continue_logger(trainer: pl.Trainer, folder: Path) -> None:
    """Make the first logger write into ``folder`` again (its version), as the resumed run did.

    Raises:
        StageError: The logger writes elsewhere (a relative ``save_dir`` read from another working
            directory, or a config whose logger changed).
    """
    from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger

    loggers = trainer.loggers
    if not loggers or not isinstance(loggers[0], CSVLogger | TensorBoardLogger):
        return  # no logger, or one (e.g. W&B) with its own notion of resuming
    logger = loggers[0]
    root = Path(logger.root_dir).resolve()
    if root != folder.parent:
        raise StageError(
            f"cannot resume {folder}: its logger now writes under {root}, not under {folder.parent}",
            id="trainer#logger",
            suggestion="run lighter from the folder the run was started in (relative paths in its "
            "config.yaml are read from there)",
        )
    # Both loggers read the version from this attribute and have no public setter; set before
    # anything asks for the log folder.
    logger._version = folder.name


def _open_logger(trainer: pl.Trainer) -> None:
    """Let the first logger open its folder before ``config.yaml`` is put there.

    Lightning's CSV logger warns that "previous log files will be deleted" when it opens a folder
    that is not empty, which the config written first would otherwise trigger on every run.
    """
    if logger_folder(trainer) is not None:
        trainer.loggers[0].experiment  # noqa: B018 - creating it is the point


def _keep_csv_metrics(trainer: pl.Trainer) -> None:
    """Keep the first part's rows in ``metrics.csv`` when a resumed run's CSVLogger opens it.

    Lightning's CSV writer deletes an existing ``metrics.csv`` when it opens a non-empty folder;
    the rows are read first, written back, and the writer told their columns so it appends.
    """
    from pytorch_lightning.loggers import CSVLogger

    logger = trainer.loggers[0] if trainer.loggers else None
    if not isinstance(logger, CSVLogger):
        return
    path = Path(logger.log_dir) / "metrics.csv"
    if not path.is_file():
        return
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        columns, rows = list(reader.fieldnames or []), list(reader)
    with warnings.catch_warnings():
        # Its warning that previous logs "will be deleted" is answered just below.
        warnings.filterwarnings("ignore", message="Experiment logs directory")
        writer = logger.experiment  # opening it deletes the old file
    buffer = io.StringIO(newline="")
    # The writer appends rows in the order of its (sorted) columns; the header must match.
    columns = sorted(columns)
    table = csv.DictWriter(buffer, fieldnames=columns)
    table.writeheader()
    table.writerows(rows)
    try:
        atomic_write(path, buffer.getvalue())
    except OSError as error:
        raise StageError(f"cannot keep the metrics of {path}: {os_reason(error)}") from error
    writer.metrics_keys = columns
