"""One trial of ``lighter sweep``: a ``lighter fit`` in a child process whose run folder is the trial's folder.

The child is started in a session of its own (a Ctrl+C reaches the sweep, which passes it on
once) and, on Linux, is sent SIGTERM if the sweep dies, so no trial runs on unwatched. While it
runs, the sweep beats for its trial (Optuna's heartbeat). Its stdout and stderr go to
``output.log``; its metric comes from the result file its :class:`~lighter.engine.sweep_trial.TrialReporter`
writes. The trial's ``trial.json`` says ``RUNNING`` while it runs and its end state after.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from lighter.engine.sweep_overrides import trial_overrides, value_overrides
from lighter.engine.sweep_report import TrialRow, write_trial_record
from lighter.engine.sweep_spec import SweepSpec
from lighter.engine.sweep_study import HEARTBEAT_S, beat, optuna_module
from lighter.engine.sweep_trial import RESULT_FILE, TRIAL_ENV, trial_handoff
from lighter.errors import ConfigError, did_you_mean

__all__ = ["Stop", "run_trial"]

_STOP_WAIT_S = 120  # how long a stopped trial may take to save its checkpoint and exit


class Stop(BaseException):
    """SIGINT or SIGTERM reached the sweep: stop the running trial, save what there is, end."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _error_line(output: str) -> str:
    """The line that says why a trial failed: lighter's error line, else the traceback's last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    hint = "(run with --debug for the full traceback)"
    if hint in lines:
        lines = lines[: lines.index(hint)]
        # lighter prints the error's first line (file:line @ id: message) before its details.
        for line in lines:
            if " @ " in line or line.startswith("command line"):
                return line
    return lines[-1] if lines else "the trial ended without output"


def _set_aside(folder: Path) -> None:
    """Move a folder left by another study (same sweep folder, new database) out of a new trial's way."""
    if not folder.exists() or not any(folder.iterdir()):
        return
    n = 1
    while folder.with_name(f"{folder.name}.old-{n}").exists():
        n += 1
    folder.rename(folder.with_name(f"{folder.name}.old-{n}"))


def _pdeathsig() -> None:
    """In the trial's process: get SIGTERM when the sweep dies, so no trial outlives it (Linux)."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _wait(process: subprocess.Popen, study: Any, number: int) -> int:
    """Wait for the trial's process, beating for its trial; on a signal, pass it on and wait for the stop."""
    try:
        while True:
            try:
                return process.wait(timeout=HEARTBEAT_S)
            except subprocess.TimeoutExpired:
                beat(study, number)
    except Stop as stop:
        if process.poll() is None:
            process.send_signal(stop.signum)  # it saves a checkpoint and ends at the next batch
            try:
                process.wait(timeout=_STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        raise


def run_trial(study: Any, trial: Any, values: dict[str, Any], ctx: dict[str, Any]) -> TrialRow:
    """Run ``trial`` with ``values`` to its end and tell Optuna how it ended; return its row.

    Args:
        ctx: The sweep's ``spec``, ``config``, ``passthrough`` overrides, storage ``url``, sweep
            ``folder`` and ``parser``.

    Raises:
        Stop: A signal stopped the sweep (the trial was stopped and marked lost first).
        ConfigError: The trial ran but never logged the monitored value.
    """
    optuna = optuna_module()
    spec: SweepSpec = ctx["spec"]
    trial_folder = ctx["folder"] / f"trial-{trial.number}"
    _set_aside(trial_folder)
    trial_folder.mkdir(parents=True, exist_ok=True)
    args = ["fit", ctx["config"], *ctx["passthrough"], *trial_overrides(spec, values, trial_folder)]
    command = shlex.join(["lighter", *args])
    trial.set_user_attr("folder", str(trial_folder))
    trial.set_user_attr("command", command)
    again = ["lighter", "fit", ctx["config"], *ctx["passthrough"], *value_overrides(spec, values)]
    trial.set_user_attr("reproduce", shlex.join(again))
    write_trial_record(trial_folder, spec.name, trial.number, values, "RUNNING", None)
    env = {k: v for k, v in os.environ.items() if k != "LIGHTER_SEED"}  # each trial draws its own seed
    pruner = {"type": spec.pruner, "startup_trials": spec.startup_trials, "warmup_steps": spec.warmup_steps}
    env[TRIAL_ENV] = trial_handoff(ctx["url"], spec.name, trial.number, spec.monitor, trial_folder, pruner)
    row = TrialRow(trial.number, values, None, "FAIL", str(trial_folder), command, "")

    def end(
        state: Any, value: float | None = None, error: str | None = None, lost: str | None = None
    ) -> TrialRow:
        if error is not None:
            trial.set_user_attr("error", error)
        if lost is not None:
            trial.set_user_attr("lost", lost)
        row.error = error or lost or ""
        study.tell(trial, value if state == optuna.trial.TrialState.COMPLETE else None, state=state)
        row.state = state.name
        for where in records:
            write_trial_record(where, spec.name, trial.number, values, state.name, row.metric)
        return row

    records = [trial_folder]

    beat(study, trial.number)
    log, errors = trial_folder / "output.log", trial_folder / ".stderr.log"
    with open(log, "w") as out, open(errors, "w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "lighter", *args],
            env=env,
            stdout=out,
            stderr=err,
            start_new_session=True,  # a Ctrl+C reaches the sweep only, which passes it on once
            preexec_fn=_pdeathsig if sys.platform == "linux" else None,
        )
        try:
            returncode = _wait(process, study, trial.number)
        except Stop as stop:
            end(optuna.trial.TrialState.FAIL, lost=f"stopped by {signal.Signals(stop.signum).name}")
            raise
        finally:
            out.flush()
            err.flush()
            stderr = _merge_stderr(log, errors)
    run_folder = _run_folder(log, trial_folder)
    if run_folder != trial_folder:  # a logger the sweep cannot place (or none): the run chose its folder
        trial.set_user_attr("run_folder", str(run_folder))
        row.folder = str(run_folder)
        records.append(run_folder)
    result_file = trial_folder / RESULT_FILE
    if returncode < 0:  # killed (SIGKILL, the OOM killer): lost, its values may run again
        return end(
            optuna.trial.TrialState.FAIL, lost=f"its process was killed by {signal.Signals(-returncode).name}"
        )
    if returncode != 0 or not result_file.is_file():
        return end(
            optuna.trial.TrialState.FAIL,
            error=_error_line(stderr) if returncode else "the run wrote no results",
        )
    logged = json.loads(result_file.read_text())
    if logged.get("pruned"):
        row.metric = _last(study, trial)
        return end(optuna.trial.TrialState.PRUNED)
    metrics = logged["metrics"]
    if spec.monitor not in metrics:
        end(optuna.trial.TrialState.FAIL, error=f"{spec.monitor} was not logged")
        names = sorted(metrics)
        raise ConfigError(
            f"trial {trial.number} never logged '{spec.monitor}' (it logged: {', '.join(names) or 'nothing'})",
            id="sweep#monitor",
            location=ctx["parser"].location("sweep#monitor"),
            suggestion=did_you_mean(spec.monitor, names),
        )
    row.metric = metrics[spec.monitor]
    return end(optuna.trial.TrialState.COMPLETE, row.metric)


def _merge_stderr(log: Path, errors: Path) -> str:
    """Append the trial's stderr to its ``output.log``; return it (it holds lighter's error line)."""
    stderr = errors.read_text(errors="replace")
    with open(log, "a") as out:
        out.write(stderr)
    errors.unlink()
    return stderr


def _run_folder(log: Path, trial_folder: Path) -> Path:
    """The trial's run folder: its folder, or the one its run printed (``Run folder: ...``)."""
    if (trial_folder / "config.yaml").is_file():
        return trial_folder
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("Run folder: "):
            return Path(line[len("Run folder: ") :].strip())
    return trial_folder


def _last(study: Any, trial: Any) -> float | None:
    frozen = [t for t in study.get_trials(deepcopy=False) if t.number == trial.number]
    values = frozen[0].intermediate_values if frozen else {}
    return values[max(values)] if values else None
