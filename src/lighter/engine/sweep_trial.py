"""The trial side of ``lighter sweep``: report to the study from inside a trial's own ``lighter fit``.

``lighter sweep`` runs every trial as a child process (``lighter fit CONFIG --overrides``), so
that a trial is exactly the run its reproducing command makes, a crash stays in its process, and
Lightning's multi-process launchers (which re-run the command line) work within a trial. The
sweep hands the child its study and trial through one environment variable, read when the stage
runs; the child then adds :class:`TrialReporter` to its trainer, which

- after each validation, reports the monitored value to Optuna and, when the pruner says so,
  stops the fit (``trainer.should_stop``, so the run ends cleanly);
- at the end of the fit, writes every logged value into ``sweep-trial.json`` in the trial's
  folder, which is where the sweep reads the trial's metric from.

Nothing here is imported unless that variable is set, so a plain run never imports Optuna.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytorch_lightning as pl

from lighter.atomic import atomic_write

__all__ = ["TRIAL_ENV", "RESULT_FILE", "TrialReporter", "attach_reporter", "trial_handoff"]

TRIAL_ENV = "LIGHTER_SWEEP_TRIAL"
"""Set by ``lighter sweep`` for a trial's process: JSON with storage, study, number, monitor, folder, pruner."""

RESULT_FILE = "sweep-trial.json"
"""Written by the trial into its folder: ``{"metrics": {name: value}, "pruned": bool, "reports": n}``."""


def trial_handoff(
    storage: str, study: str, number: int, monitor: str, folder: Path, pruner: Mapping[str, Any]
) -> str:
    """The value of :data:`TRIAL_ENV` for one trial.

    Args:
        number: The trial's number in the study.
        pruner: ``{"type": "median"|"none", "startup_trials": n, "warmup_steps": n}`` (``sweep#pruner``).
    """
    return json.dumps(
        {
            "storage": storage,
            "study": study,
            "number": number,
            "monitor": monitor,
            "folder": str(folder),
            "pruner": dict(pruner),
        }
    )


def _logged(trainer: pl.Trainer) -> dict[str, float]:
    return {
        name: float(value)
        for name, value in trainer.callback_metrics.items()
        if getattr(value, "numel", lambda: 1)() == 1
    }


class TrialReporter(pl.Callback):
    """Reports a trial's monitored value after each validation, prunes, and records what was logged.

    Args:
        handoff: The decoded :data:`TRIAL_ENV` value.
    """

    def __init__(self, handoff: Mapping[str, Any]) -> None:
        self.handoff = dict(handoff)
        self.reports = 0
        self.pruned = False
        self._trial: Any = None

    def _optuna_trial(self) -> Any:
        if self._trial is None:
            import optuna

            from lighter.engine.sweep_study import make_pruner, open_storage

            storage = open_storage(self.handoff["storage"])
            pruner = make_pruner(**self.handoff["pruner"])
            study = optuna.load_study(study_name=self.handoff["study"], storage=storage, pruner=pruner)
            study_id = storage.get_study_id_from_name(self.handoff["study"])
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, self.handoff["number"])
            self._trial = optuna.trial.Trial(study, trial_id)
        return self._trial

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self.handoff["pruner"]["type"] == "none":
            return
        # Epoch values are synced over ranks, so every rank of a DDP trial takes the same branch here.
        value = trainer.callback_metrics.get(self.handoff["monitor"])
        if value is None:
            return
        prune = False
        if trainer.is_global_zero:
            trial = self._optuna_trial()
            # Counted in validations, not steps: trials with different batch sizes stay comparable.
            trial.report(float(value), step=self.reports)
            prune = trial.should_prune()
        self.reports += 1
        # Rank 0 asked Optuna; every rank must stop together, or the others would wait forever.
        if trainer.strategy.broadcast(prune, src=0):
            self.pruned = True
            trainer.should_stop = True

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        folder = Path(self.handoff["folder"])
        folder.mkdir(parents=True, exist_ok=True)
        record = {"metrics": _logged(trainer), "pruned": self.pruned, "reports": self.reports}
        atomic_write(folder / RESULT_FILE, json.dumps(record, indent=2, sort_keys=True) + "\n")


def attach_reporter(trainer: pl.Trainer, environ: Mapping[str, str] = os.environ) -> None:
    """Add a :class:`TrialReporter` to ``trainer`` when this process runs a sweep's trial."""
    handoff = environ.get(TRIAL_ENV)
    if handoff:
        trainer.callbacks.append(TrialReporter(json.loads(handoff)))
