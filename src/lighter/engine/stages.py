"""The stage table: what each ``lighter <stage>`` calls, which modes it builds and which parts it needs.

Everything stage-specific lives in :data:`STAGES`; the CLI commands, the pruning, the requirement
check and the dispatch are all derived from it, so adding a stage is one row here.

Lightning is imported inside the call functions only, so reading the table (e.g. for ``--help``)
stays cheap.
"""

from __future__ import annotations

import functools
import logging
import math
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


# Lightning says this whenever the search ran fewer steps than asked, also when the epochs ran out
# first; lighter's report states the actual reason instead.
_LR_FINDER_LOGGER = "pytorch_lightning.tuner.lr_finder"
_LR_FINDER_STOP_NOTICE = "LR finder stopped early after"


class _DropStopNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(_LR_FINDER_STOP_NOTICE)


def _lr_find(trainer: Any) -> Callable[..., Any]:
    lr_find = _tuner(trainer).lr_find

    @functools.wraps(lr_find)  # keeps the signature that args#lr_find is checked against
    def run(*args: Any, **kwargs: Any) -> Any:
        logger = logging.getLogger(_LR_FINDER_LOGGER)
        drop = _DropStopNotice()
        logger.addFilter(drop)
        try:
            return lr_find(*args, **kwargs)
        finally:
            logger.removeFilter(drop)

    return run


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
    return [found, *_lr_find_cut_short(lr_finder, trainer), f"Learning-rate plot: {path}"]


def _lr_find_cut_short(lr_finder: Any, trainer: Any) -> list[str]:
    """Say why the search ran fewer steps than ``num_training``, and how to run them all.

    The search is a fit that stops after ``num_training`` steps, but it also stops when the
    trainer's epochs run out, and then the suggestion rests on the low end of the lr range only
    (the index page's example once suggested 3.3e-7 after 24 of 100 steps, without a word).
    """
    ran, asked = len(lr_finder.results.get("lr", ())), lr_finder.num_training
    if ran >= asked:
        return []
    reached = f"{lr_finder.results['lr'][-1]:.3g}" if ran else "none"
    batches = trainer.num_training_batches
    per_epoch = int(batches) // max(trainer.accumulate_grad_batches, 1) if math.isfinite(batches) else 0
    epochs = trainer.max_epochs
    if per_epoch and epochs is not None and epochs > 0 and ran >= epochs * per_epoch:
        needed = math.ceil(asked / per_epoch)
        return [
            f"Warning: lr_find ran only {ran} of its {asked} steps: trainer#max_epochs={epochs} x "
            f"{per_epoch} train batches per epoch ended it first, so it tried learning rates up to "
            f"{reached} of max_lr {lr_finder.lr_max:g} only and the suggestion above is unreliable.",
            f"  Run all steps with --trainer#max_epochs={needed}, or sweep the whole range in fewer "
            f"steps with --args#lr_find#num_training={ran}.",
        ]
    return [
        f"lr_find stopped after {ran} of its {asked} steps (learning rates up to {reached}): the loss "
        "diverged past args#lr_find#early_stop_threshold times its best; the suggestion uses the "
        "steps before."
    ]


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
        # Epochs are counted from 0, as in Lightning's progress bar ("Epoch 2/2" is the last of three);
        # `current_epoch` counts the epochs completed, so the last one is one less.
        lines.append(f"Metrics after epoch {max(trainer.current_epoch - 1, 0)}:")
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
