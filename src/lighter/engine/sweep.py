"""``lighter sweep``: search hyperparameters with Optuna, one plain ``lighter fit`` per trial.

load → validate (the ``sweep`` section allowed, the fit stage's needs checked) → read the sweep
section → open (or create) the study → until the study holds ``trials`` trials: ask Optuna for
values, run ``lighter fit CONFIG --overrides`` in a child process with its own folder, read the
metric it logged, tell Optuna → print and save the results table.

The study lives in a database (default: ``study.db`` in the sweep folder), so re-running the
command continues it and several processes or machines on one database share the work: each
trial is created by the database, which numbers them, and a trial numbered past the target is
dropped, so no more than ``trials`` ever run. Optuna is imported only here, when a sweep runs.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lighter.atomic import atomic_write, os_reason
from lighter.engine.project import import_configured_project
from lighter.engine.prune import check_stage
from lighter.engine.runner import load
from lighter.engine.schema import validate_structure
from lighter.engine.stages import Stage
from lighter.engine.sweep_spec import Param, SweepSpec, parse_sweep, trial_overrides
from lighter.engine.sweep_trial import RESULT_FILE, TRIAL_ENV, trial_handoff
from lighter.errors import ConfigError, MissingDependencyError, did_you_mean

__all__ = ["TrialRow", "make_pruner", "open_storage", "run_sweep"]

_SKIPPED = "lighter_skipped"  # a trial asked for past the target by a racing process; not a result
_RESULTS = "results.csv"


@dataclass
class TrialRow:
    """One trial of the study, as the results table shows it."""

    number: int
    values: dict[str, Any]
    metric: float | None
    state: str
    folder: str
    command: str
    error: str


def _optuna() -> Any:
    try:
        import optuna
    except ImportError as e:
        raise MissingDependencyError(
            "lighter sweep needs Optuna, which is not installed",
            suggestion="pip install 'lighter[sweep]' (or pip install optuna)",
        ) from e
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the sweep prints its own lines
    return optuna


def open_storage(url: str) -> Any:
    """An Optuna storage for ``url``; SQLite waits for a busy file instead of failing at once."""
    optuna = _optuna()
    engine = {"connect_args": {"timeout": 120}} if url.startswith("sqlite") else None
    return optuna.storages.RDBStorage(url, engine_kwargs=engine)


def make_pruner(type: str, startup_trials: int, warmup_steps: int) -> Any:  # noqa: A002 - sweep#pruner#type
    """The Optuna pruner of ``sweep#pruner`` (the sweep and each trial's process build the same one)."""
    optuna = _optuna()
    if type == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=startup_trials, n_warmup_steps=warmup_steps)
    return optuna.pruners.NopPruner()


def _open_study(spec: SweepSpec, url: str, parser: Any) -> Any:
    optuna = _optuna()
    location = parser.location("sweep#storage") or parser.location("sweep")
    pruner = make_pruner(spec.pruner, spec.startup_trials, spec.warmup_steps)
    last: Exception | None = None
    for attempt in range(3):  # processes starting together may race to create the tables
        try:
            study = optuna.create_study(
                study_name=spec.name,
                storage=open_storage(url),
                direction=spec.direction,
                sampler=optuna.samplers.TPESampler(seed=spec.seed),
                pruner=pruner,
                load_if_exists=True,
            )
            break
        except Exception as e:  # noqa: BLE001 - any failure to open the database is the user's to fix
            last = e
            time.sleep(0.5 * (attempt + 1))
    else:
        reason = os_reason(last) if isinstance(last, OSError) else str(last).splitlines()[0]
        raise ConfigError(
            f"cannot open the sweep storage '{url}': {reason}", id="sweep#storage", location=location
        ) from last
    if study.direction.name.lower() != spec.direction:
        raise ConfigError(
            f"study '{spec.name}' in {url} already runs with direction {study.direction.name.lower()}",
            id="sweep#direction",
            location=parser.location("sweep#direction"),
            suggestion="keep the direction, or give the sweep another name (sweep#name)",
        )
    return study


def _real(trials: Sequence[Any]) -> list[Any]:
    """Trials that count: not dropped past the target, not merely queued."""
    optuna = _optuna()
    return [
        t for t in trials if not t.user_attrs.get(_SKIPPED) and t.state != optuna.trial.TrialState.WAITING
    ]


def _suggest(trial: Any, param: Param) -> Any:
    low_high = param.values
    if param.distribution == "choice":
        return trial.suggest_categorical(param.name, list(param.values))
    if param.distribution == "int_uniform":
        return trial.suggest_int(param.name, low_high[0], low_high[1])
    return trial.suggest_float(param.name, low_high[0], low_high[1], log=param.distribution == "log_uniform")


def _passthrough(overrides: Sequence[str]) -> list[str]:
    """The user's overrides that a trial's fit needs: all but those of the sweep section."""
    kept, skip_next = [], False
    for item in overrides:
        if skip_next:
            skip_next = False
            continue
        key = item[2:].lstrip("+=~") if item.startswith("--") else ""
        if key == "sweep" or key.startswith(("sweep#", "sweep=", "sweep::")):
            skip_next = "=" not in item  # `--sweep#trials 6`: the value is the next word
            continue
        kept.append(item)
    return kept


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


def _format(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _run_trial(
    study: Any,
    trial: Any,
    spec: SweepSpec,
    config: str,
    passthrough: list[str],
    url: str,
    folder: Path,
    parser: Any,
) -> TrialRow:
    optuna = _optuna()
    values = {p.name: _suggest(trial, p) for p in spec.params}
    trial_folder = folder / f"trial-{trial.number}"
    trial_folder.mkdir(parents=True, exist_ok=True)
    (trial_folder / RESULT_FILE).unlink(missing_ok=True)
    args = ["fit", config, *passthrough, *trial_overrides(spec, values, trial_folder)]
    command = shlex.join(["lighter", *args])
    trial.set_user_attr("folder", str(trial_folder))
    trial.set_user_attr("command", command)
    env = {k: v for k, v in os.environ.items() if k != "LIGHTER_SEED"}  # each trial draws its own seed
    pruner = {"type": spec.pruner, "startup_trials": spec.startup_trials, "warmup_steps": spec.warmup_steps}
    env[TRIAL_ENV] = trial_handoff(url, spec.name, trial.number, spec.monitor, trial_folder, pruner)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "lighter", *args], env=env, capture_output=True, text=True, check=False
        )
    except KeyboardInterrupt:
        trial.set_user_attr("error", "interrupted")
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        raise
    atomic_write(trial_folder / "output.log", done.stdout + done.stderr)
    row = TrialRow(trial.number, values, None, "failed", str(trial_folder), command, "")
    result_file = trial_folder / RESULT_FILE
    if done.returncode != 0 or not result_file.is_file():
        row.error = _error_line(done.stderr) if done.returncode != 0 else "the run wrote no results"
        trial.set_user_attr("error", row.error)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return row
    result = json.loads(result_file.read_text())
    logged = result["metrics"]
    if result.get("pruned"):
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        row.state = "pruned"
        row.metric = _last(study, trial)
        return row
    if spec.monitor not in logged:
        row.error = f"{spec.monitor} was not logged"
        trial.set_user_attr("error", row.error)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        names = sorted(logged)
        raise ConfigError(
            f"trial {trial.number} never logged '{spec.monitor}' (it logged: {', '.join(names) or 'nothing'})",
            id="sweep#monitor",
            location=parser.location("sweep#monitor"),
            suggestion=did_you_mean(spec.monitor, names),
        )
    row.metric = logged[spec.monitor]
    row.state = "complete"
    study.tell(trial, row.metric)
    return row


def _last(study: Any, trial: Any) -> float | None:
    frozen = [t for t in study.get_trials(deepcopy=False) if t.number == trial.number]
    values = frozen[0].intermediate_values if frozen else {}
    return values[max(values)] if values else None


def _rows(study: Any) -> list[TrialRow]:
    optuna = _optuna()
    states = {
        optuna.trial.TrialState.COMPLETE: "complete",
        optuna.trial.TrialState.PRUNED: "pruned",
        optuna.trial.TrialState.FAIL: "failed",
        optuna.trial.TrialState.RUNNING: "running",
    }
    rows = []
    for t in _real(study.get_trials(deepcopy=False)):
        metric = t.value if t.state == optuna.trial.TrialState.COMPLETE else None
        if t.state == optuna.trial.TrialState.PRUNED and t.intermediate_values:
            metric = t.intermediate_values[max(t.intermediate_values)]
        rows.append(
            TrialRow(
                t.number,
                dict(t.params),
                metric,
                states.get(t.state, t.state.name.lower()),
                t.user_attrs.get("folder", ""),
                t.user_attrs.get("command", ""),
                t.user_attrs.get("error", ""),
            )
        )
    return rows


def _sorted(rows: list[TrialRow], direction: str) -> list[TrialRow]:
    order = {"complete": 0, "pruned": 1, "running": 2, "failed": 3}
    sign = -1 if direction == "maximize" else 1

    def key(row: TrialRow) -> tuple:
        has = row.metric is not None
        return (order.get(row.state, 4), not has, sign * row.metric if has else 0, row.number)

    return sorted(rows, key=key)


def _table(rows: list[TrialRow], spec: SweepSpec) -> list[str]:
    header = ["trial", *[p.name for p in spec.params], spec.monitor, "state"]
    body = [
        [
            str(r.number),
            *[_format(r.values.get(p.name, "")) for p in spec.params],
            _format(r.metric) if r.metric is not None else "-",
            r.state + (f": {r.error}" if r.error else ""),
        ]
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header) - 1)]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=False)) + "  " + line[-1]
        for line in [header, *body]
    ]


def _csv(rows: list[TrialRow], spec: SweepSpec) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["trial", *[p.name for p in spec.params], spec.monitor, "state", "error", "folder", "command"]
    )
    for r in rows:
        writer.writerow(
            [
                r.number,
                *[r.values.get(p.name, "") for p in spec.params],
                "" if r.metric is None else r.metric,
                r.state,
                r.error,
                r.folder,
                r.command,
            ]
        )
    return out.getvalue()


def run_sweep(
    config: str,
    overrides: Sequence[str] = (),
    say: Any = print,
    *,
    safe: bool | None = None,
    allow: Sequence[str] = (),
) -> list[TrialRow]:
    """Run (or continue) the sweep of ``config`` until its study holds ``sweep#trials`` trials.

    Args:
        config: A config path, or comma-separated paths (later files win), with a ``sweep`` section.
        overrides: ``["--sweep#trials=6", "--trainer#max_epochs=3", ...]``; the non-sweep ones reach every trial.
        say: Where progress and result lines go.
        safe: Safe mode for the sweep and every trial (``--safe`` is passed on to each trial's
            ``lighter fit``); ``None`` reads ``LIGHTER_SAFE``.
        allow: What safe mode allows besides its defaults, passed on to each trial too.

    Returns:
        Every trial of the study (this process's and others'), best first.

    Raises:
        LighterError: The sweep or the config is wrong (before any trial), or the monitored value
            was never logged (after the first trial that ran to the end).
    """
    from lighter.config.safety import allowed_packages, safe_requested

    safe = safe_requested() if safe is None else safe
    allowed = allowed_packages(allow) if safe else ()
    parser = load(config, overrides, check_targets=not safe, safe=safe, allow=allowed if safe else None)
    validate_structure(parser.config, parser.location, sweep=True)
    check_stage(parser.config, Stage.FIT, parser.location)
    # So that a param naming a new argument of a project class is checked against its signature.
    import_configured_project(parser)
    spec = parse_sweep(parser, name=Path(str(config).split(",")[0]).stem)
    folder = spec.folder.resolve()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(
            f"cannot create the sweep folder {folder}: {os_reason(e)}",
            id="sweep#folder",
            location=parser.location("sweep#folder") or parser.location("sweep"),
        ) from e
    url = spec.storage or f"sqlite:///{folder / 'study.db'}"
    study = _open_study(spec, url, parser)
    if spec.start_with and not study.user_attrs.get("lighter_started_with"):
        study.set_user_attr("lighter_started_with", True)
        for point in spec.start_with:
            study.enqueue_trial(point, skip_if_exists=True)
    passthrough = _passthrough(overrides)
    if safe:  # each trial is a fit of its own: it checks the config again, in safe mode too
        passthrough += ["--safe", *(f"--allow={name}" for name in allowed)]
    say(f"Sweep '{spec.name}': {spec.trials} trials in {folder} (storage {url})")
    while len(_real(study.get_trials(deepcopy=False))) < spec.trials:
        trial = study.ask()
        before = [t for t in _real(study.get_trials(deepcopy=False)) if t.number < trial.number]
        if len(before) >= spec.trials:  # other processes took the last places meanwhile
            trial.set_user_attr(_SKIPPED, True)
            study.tell(trial, state=_optuna().trial.TrialState.FAIL)
            break
        start = time.monotonic()
        row = _run_trial(study, trial, spec, config, passthrough, url, folder, parser)
        shown = ", ".join(f"{k}={_format(v)}" for k, v in row.values.items())
        result = f"{spec.monitor} = {_format(row.metric)}" if row.metric is not None else "no value"
        why = f": {row.error}" if row.error else ""
        say(
            f"Trial {row.number} ({len(before) + 1}/{spec.trials}): {shown} -> {result} ({row.state}{why}, {time.monotonic() - start:.0f} s)"
        )
    rows = _sorted(_rows(study), spec.direction)
    for line in _table(rows, spec):
        say(line)
    atomic_write(folder / _RESULTS, _csv(rows, spec))
    say(f"Results: {folder / _RESULTS}")
    best = next((r for r in rows if r.state == "complete"), None)
    if best is not None:
        say(f"Best: trial {best.number} ({spec.monitor} = {_format(best.metric)}), run folder {best.folder}")
        say(f"Reproduce: {best.command}")
    return rows
