"""Keep a stage's entry in its run folder's record (``run.json``, see :mod:`lighter.engine.records`).

:class:`RunRecorder` adds the entry as soon as the run folder is known (outcome ``running``) and
completes it when the stage ends: completed, failed with the error's first line, or interrupted by a
signal, with the best checkpoint and the final metrics so far. Only process 0 writes. A failure to
write the record never hides the stage's own outcome.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytorch_lightning import Callback

from lighter.engine import records
from lighter.engine.stages import Stage
from lighter.errors import LighterError

__all__ = ["RunRecorder", "best_checkpoint", "final_metrics", "recorded"]


def final_metrics(trainer: Any) -> dict[str, float]:
    """The single-number metrics the Trainer holds at the end of a stage, as floats, by name."""
    return {
        name: float(value)
        for name, value in sorted(trainer.callback_metrics.items())
        if getattr(value, "numel", lambda: 1)() == 1
    }


def _relative(folder: Path, path: str | os.PathLike[str] | None) -> str | None:
    """``path`` relative to the run ``folder`` when it lies inside it (the record survives a move)."""
    if not path:
        return None
    absolute = Path(os.path.abspath(path))
    try:
        return str(absolute.relative_to(folder))
    except ValueError:
        return str(absolute)


def best_checkpoint(trainer: Any, folder: Path) -> dict[str, Any] | None:
    """The best checkpoint the Trainer's ModelCheckpoint recorded, as the record holds it."""
    callback = trainer.checkpoint_callback
    if callback is None or not callback.best_model_path:
        return None
    score = callback.best_model_score
    return {
        "path": _relative(folder, callback.best_model_path),
        "monitor": callback.monitor,
        "score": float(score) if score is not None and callback.monitor else None,
        "mode": callback.mode,
    }


@dataclass(frozen=True)
class _Recorded:
    """What an entry needs from the runner's ``Prepared`` config."""

    record: dict[str, Any]
    sources: Any
    seed: int
    evaluation: Any
    resume: Any
    files: list[Path]
    ckpt_path: str | None


class RunRecorder(Callback):
    """Add this stage's entry to the run folder's record and complete it at the end.

    Args:
        stage: The stage running.
        prepared: The runner's :class:`~lighter.engine.runner.Prepared` config.
        overrides: The command-line overrides as given.
    """

    def __init__(self, stage: Stage, prepared: Any, overrides: Sequence[str]) -> None:
        self.stage = stage
        # Plain values only, not the parser: the callback travels to processes `ddp_spawn` and
        # spawned dataloader workers start, and a resolved parser does not pickle.
        given = prepared.parser.get(f"args#{stage.value}#ckpt_path")
        self.prepared = _Recorded(
            record=prepared.record,
            sources=prepared.sources,
            seed=prepared.seed,
            evaluation=prepared.evaluation,
            resume=prepared.resume,
            files=[Path(os.path.abspath(f)) for f in prepared.parser.files],
            ckpt_path=given if isinstance(given, str) and not given.startswith(("$", "@")) else None,
        )
        self.overrides = list(overrides)
        self.folder: Path | None = None
        self.index: int | None = None
        self.trainer: Any = None
        self.done = False  # a recorder left among a reused Trainer's callbacks adds no second entry

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        self.begin(trainer)  # a multi-process run knows its folder only now

    def begin(self, trainer: Any) -> None:
        """Write the entry (once), if this is process 0 and the run folder is decided."""
        from lighter.engine.run_folder import run_folder_of

        if self.index is not None or self.done or not trainer.is_global_zero:
            return
        evaluation = self.prepared.evaluation
        folder = evaluation.folder if evaluation is not None and evaluation.folder else run_folder_of(trainer)
        if folder is None:
            return
        self.folder, self.trainer = Path(folder), trainer
        self.index = records.start_entry(
            self.folder,
            self._entry(trainer),
            config=records.flat_config(self.prepared.record),
            sources=self.prepared.sources,
            replace_config=self.stage is Stage.FIT,  # a continued fit changed the run's config.yaml too
        )

    def _entry(self, trainer: Any) -> dict[str, Any]:
        prepared = self.prepared
        evaluation, resume = prepared.evaluation, prepared.resume
        checkpoint = (
            evaluation.checkpoint
            if evaluation is not None and evaluation.checkpoint
            else resume.checkpoint
            if resume is not None
            else None
        )
        if checkpoint is None:
            checkpoint = prepared.ckpt_path
        project = prepared.record.get("project")
        files = prepared.files
        home = Path(project) if isinstance(project, str) else files[0].parent if files else Path.cwd()
        output = evaluation.output if evaluation is not None else None
        return {
            "stage": self.stage.value,
            "output": output.name if output is not None else None,
            "command": records.shown_command(),
            "configs": [str(f) for f in files],
            "overrides": self.overrides,
            "checkpoint": _relative(self.folder, checkpoint) if checkpoint else None,
            "started": records.now(),
            "ended": None,
            "duration_s": None,
            "outcome": "running",
            "error": None,
            "signal": None,
            "git": records.git_state(home),
            "versions": records.versions(),
            "host": records.host(),
            "world_size": int(trainer.world_size),
            "seed": prepared.seed,
            "best": None,
            "metrics": {},
        }

    def finish(self, outcome: str, error: str | None = None, signal: str | None = None) -> None:
        """Complete the entry: ``completed``, ``failed`` (with ``error``) or ``interrupted`` (with ``signal``)."""
        self.done = True
        if self.index is None or self.folder is None:
            return
        trainer = self.trainer
        fields: dict[str, Any] = {
            "ended": records.now(),
            "outcome": outcome,
            "error": error,
            "signal": signal,
            "metrics": final_metrics(trainer),
        }
        if self.stage in (Stage.FIT, Stage.LR_FIND, Stage.SCALE_BATCH_SIZE):
            fields["best"] = best_checkpoint(trainer, self.folder)
        index, self.index = self.index, None  # once, even if writing fails
        try:
            records.finish_entry(self.folder, index, **fields)
        except LighterError as problem:  # the stage's own outcome is what the run ends with
            print(f"Warning: {problem}", file=sys.stderr, flush=True)


def recorded(stage: Stage, prepared: Any, trainer: Any, call: Callable[[], Any]) -> Any:
    """Run ``call()`` (the stage, on ``trainer``) with its entry in the run record (the Python API's runs).

    A failure is recorded with its first line and raised again.
    """
    recorder = RunRecorder(stage, prepared, ())
    trainer.callbacks.append(recorder)
    recorder.begin(trainer)
    try:
        result = call()
    except BaseException as error:
        recorder.finish("failed", error=(str(error).splitlines() or [type(error).__name__])[0])
        raise
    recorder.finish("completed")
    return result
