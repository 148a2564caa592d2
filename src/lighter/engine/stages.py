"""The stage table: what each ``lighter <stage>`` calls, which modes it builds and which parts it needs.

Everything stage-specific lives in :data:`STAGES`; the CLI commands, the pruning, the requirement
check and the dispatch are all derived from it, so adding a stage is one row here.

Lightning is imported inside the call functions only, so reading the table (e.g. for ``--help``)
stays cheap.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from lighter.errors import StageError, did_you_mean

__all__ = ["Stage", "StageSpec", "STAGES", "MODES", "METRIC_MODES", "stage_spec"]

MODES = ("train", "val", "test", "predict")
"""Modes a System has a dataloader (and adapters) for."""

METRIC_MODES = ("train", "val", "test")
"""Modes a System computes metrics in (predict has no target)."""


class Stage(str, Enum):
    """A stage the ``lighter`` command can run."""

    FIT = "fit"
    VALIDATE = "validate"
    TEST = "test"
    PREDICT = "predict"
    LR_FIND = "lr_find"
    SCALE_BATCH_SIZE = "scale_batch_size"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class StageSpec:
    """One row of the stage table.

    Attributes:
        summary: One line for ``lighter --help``.
        method: ``method(trainer)`` returns the bound call that runs the stage, e.g. ``trainer.fit``;
            it is called as ``method(system, **args)``.
        modes: Modes whose dataloaders, metrics and adapters the stage builds.
        parts: Optional ``system`` parts the stage uses besides ``model`` (others are pruned).
        needs: ``system`` ids that must be present for the stage to run at all.
        report: ``report(result, trainer)`` returns lines to print once the stage is done.
    """

    summary: str
    method: Callable[[Any], Callable[..., Any]]
    modes: tuple[str, ...]
    parts: tuple[str, ...]
    needs: tuple[str, ...]
    report: Callable[[Any, Any], list[str]] | None = None


def _fit(trainer: Any) -> Callable[..., Any]:
    return trainer.fit


def _validate(trainer: Any) -> Callable[..., Any]:
    return trainer.validate


def _test(trainer: Any) -> Callable[..., Any]:
    return trainer.test


def _predict(trainer: Any) -> Callable[..., Any]:
    return trainer.predict


def _tuner(trainer: Any) -> Any:
    """Return a ``Tuner`` for ``trainer``; Lightning's tuner only works in a single process."""
    from pytorch_lightning.strategies import SingleDeviceStrategy
    from pytorch_lightning.tuner import Tuner

    if not isinstance(trainer.strategy, SingleDeviceStrategy):
        raise StageError(
            f"the tuner stages run on a single device, but the trainer uses {type(trainer.strategy).__name__}",
            id="trainer#strategy",
            suggestion="run with --trainer#devices=1 --trainer#strategy=auto",
        )
    return Tuner(trainer)


def _lr_find(trainer: Any) -> Callable[..., Any]:
    return _tuner(trainer).lr_find


def _scale_batch_size(trainer: Any) -> Callable[..., Any]:
    return _tuner(trainer).scale_batch_size


def _report_lr_find(lr_finder: Any, trainer: Any) -> list[str]:
    """Print the suggestion and save the loss-vs-lr plot next to the run's logs."""
    if lr_finder is None:  # Lightning skips the search under fast_dev_run
        return ["lr_find did not run (fast_dev_run is set)"]
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        # A headless run must not try to open a window; only choose when nobody else has.
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    suggestion = lr_finder.suggestion()
    from lighter.engine.run_folder import run_folder_of

    # Beside the run's checkpoints, config and logs (the logger's folder, or lighter's own).
    path = (run_folder_of(trainer) or Path(trainer.log_dir or trainer.default_root_dir)) / "lr_find.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    figure = lr_finder.plot(suggest=suggestion is not None, show=False)
    figure.savefig(path)
    plt.close(figure)
    found = (
        f"Suggested learning rate: {suggestion:.3g}"
        if suggestion is not None
        else "No learning rate suggested (too few points; raise args#lr_find#num_training)"
    )
    return [found, f"Learning-rate plot: {path}"]


def _report_scale_batch_size(batch_size: Any, trainer: Any) -> list[str]:
    return [f"Batch size found: {batch_size}"]


def _report_fit(result: Any, trainer: Any) -> list[str]:
    """Summarise the run: the last epoch's metrics and where the best checkpoint is.

    Lightning prints tables after validate/test but nothing after fit, so a user would otherwise
    have to open the logs to learn how the run ended.
    """
    final = {
        name: value
        for name, value in sorted(trainer.callback_metrics.items())
        if name.endswith("/epoch") and value.numel() == 1  # Lightning keeps them as tensors
    }
    lines = []
    if final:
        lines.append(f"Metrics after epoch {trainer.current_epoch}:")
        width = max(len(name) for name in final)
        lines += [f"  {name:<{width}}  {float(value):.4f}" for name, value in final.items()]
    checkpoint = trainer.checkpoint_callback
    if checkpoint is not None and checkpoint.best_model_path:
        score = checkpoint.best_model_score
        judged = (
            f" ({checkpoint.monitor} = {float(score):.4f})"
            if checkpoint.monitor and score is not None
            else ""
        )
        lines.append(f"Best checkpoint: {checkpoint.best_model_path}{judged}")
    return lines


_TRAINING_PARTS = ("criterion", "optimizer", "scheduler", "inferer")
_TRAINING_NEEDS = ("model", "optimizer", "criterion", "dataloaders#train")

STAGES: dict[Stage, StageSpec] = {
    Stage.FIT: StageSpec(
        summary="Train the system on its train data (validating on val data if given).",
        method=_fit,
        modes=("train", "val"),
        parts=_TRAINING_PARTS,
        needs=_TRAINING_NEEDS,
        report=_report_fit,
    ),
    Stage.VALIDATE: StageSpec(
        summary="Evaluate the system on its val data.",
        method=_validate,
        modes=("val",),
        parts=("criterion", "inferer"),
        needs=("model", "dataloaders#val"),
    ),
    Stage.TEST: StageSpec(
        summary="Evaluate the system on its test data.",
        method=_test,
        modes=("test",),
        parts=("inferer",),
        needs=("model", "dataloaders#test"),
    ),
    Stage.PREDICT: StageSpec(
        summary="Run the system on its predict data.",
        method=_predict,
        modes=("predict",),
        parts=("inferer",),
        needs=("model", "dataloaders#predict"),
    ),
    Stage.LR_FIND: StageSpec(
        summary="Find a good learning rate (prints it and saves the loss-vs-lr plot).",
        method=_lr_find,
        modes=("train", "val"),
        parts=_TRAINING_PARTS,
        needs=_TRAINING_NEEDS,
        report=_report_lr_find,
    ),
    Stage.SCALE_BATCH_SIZE: StageSpec(
        summary="Find the largest train batch size that fits in memory.",
        method=_scale_batch_size,
        modes=("train", "val"),
        parts=_TRAINING_PARTS,
        needs=_TRAINING_NEEDS,
        report=_report_scale_batch_size,
    ),
}


def stage_spec(stage: Stage | str) -> StageSpec:
    """Return the table row for ``stage`` (a :class:`Stage` or its name).

    Raises:
        StageError: ``stage`` is not a stage name; the message suggests the closest one.
    """
    try:
        return STAGES[Stage(stage)]
    except ValueError:
        names = [s.value for s in Stage]
        raise StageError(
            f"unknown stage '{stage}'",
            suggestion=did_you_mean(str(stage), names) or f"one of {', '.join(names)}",
        ) from None
