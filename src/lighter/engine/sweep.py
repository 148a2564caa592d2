"""``lighter sweep``: search hyperparameters with Optuna, one plain ``lighter fit`` per trial.

load → validate (the ``sweep`` section allowed, the fit stage's needs checked) → read the sweep
section → open (or create) the study, failing the trials of dead processes → until the study
holds ``trials`` counted trials: ask Optuna for values (never a repeat of values already run),
run ``lighter fit CONFIG --overrides`` in a child process whose run folder is the trial's folder,
read the metric it logged, tell Optuna → print and save the results table and the pictures
(also when the sweep is stopped by SIGINT or SIGTERM).

The study lives in a database (default: ``study.db`` in the sweep folder), so re-running the
command continues it and several processes or machines on one database share the work: each
trial is created by the database, which numbers them, and a trial numbered past the target is
dropped, so no more than ``trials`` ever run. Optuna is imported only when a sweep runs.
"""

from __future__ import annotations

import itertools
import signal
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from lighter.atomic import atomic_write, os_reason
from lighter.engine.project import import_configured_project
from lighter.engine.prune import check_stage
from lighter.engine.runner import load
from lighter.engine.schema import validate_structure
from lighter.engine.stages import Stage
from lighter.engine.sweep_plots import HISTORY, IMPORTANCE, draw_history, draw_importance
from lighter.engine.sweep_report import (
    TrialRow,
    csv_text,
    row_of,
    sorted_rows,
    table_lines,
)
from lighter.engine.sweep_run import Stop, run_trial
from lighter.engine.sweep_spec import (
    Param,
    SweepSpec,
    grid_values,
    parse_sweep,
    space_size,
)
from lighter.engine.sweep_study import (
    SKIPPED,
    counted,
    fail_lost_trials,
    is_lost,
    lost_reason,
    make_pruner,
    open_storage,
    open_study,
    optuna_module,
    params_key,
    record_owner,
)
from lighter.errors import ConfigError, Interrupted

__all__ = ["TrialRow", "make_pruner", "open_storage", "run_sweep"]

_RESULTS = "results.csv"
_RETRIES = 20  # fresh proposals asked for before a space that keeps repeating counts as explored


def _suggest(trial: Any, param: Param, grid: bool) -> Any:
    if grid or param.distribution == "choice":
        return trial.suggest_categorical(param.name, list(grid_values(param) or ()))
    low, high = param.values
    if param.distribution == "int_uniform":
        return trial.suggest_int(param.name, low, high)
    return trial.suggest_float(param.name, low, high, log=param.distribution == "log_uniform")


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


def _format(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _rows(study: Any) -> list[TrialRow]:
    rows = []
    for t in study.get_trials(deepcopy=False):
        if t.user_attrs.get(SKIPPED) or t.state.name == "WAITING":
            continue
        row = row_of(t)
        if is_lost(t):
            row.error = f"lost: {lost_reason(t)}"
        rows.append(row)
    return rows


def _unrun(spec: SweepSpec, taken: set[str]) -> dict[str, Any] | None:
    """The first combination of a finite space (in grid order) that no counted trial has run."""
    names = [p.name for p in spec.params]
    for combination in itertools.product(*(grid_values(p) or () for p in spec.params)):
        values = dict(zip(names, combination, strict=True))
        if params_key(values) not in taken:
            return values
    return None


def _propose(study: Any, spec: SweepSpec, size: int | None, say: Any) -> tuple[Any, dict[str, Any]] | None:
    """A new trial with values no counted trial has run; ``None`` when the space has none left."""
    optuna = optuna_module()
    grid = spec.sampler == "grid"
    for attempt in range(_RETRIES):
        taken = {params_key(dict(t.params)) for t in counted(study.get_trials(deepcopy=False))}
        if size is not None and len(taken) >= size:
            return None  # said by the caller
        trial = study.ask()
        record_owner(trial)  # at once: a sweep killed from here on leaves a trial found lost
        values = {p.name: _suggest(trial, p, grid) for p in spec.params}
        if params_key(values) not in taken:
            return trial, values
        trial.set_user_attr(SKIPPED, "repeat")
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        if size is not None and (grid or attempt >= _RETRIES // 2):
            # GridSampler repeats a point once its own bookkeeping is spent (it counts lost trials
            # as visited); a finite space takes the next combination not run instead.
            study.enqueue_trial(_unrun(spec, taken))
    say(f"No new values in {_RETRIES} proposals: the search space looks explored; stopping")
    return None


def _finish(study: Any, spec: SweepSpec, folder: Path, say: Any) -> list[TrialRow]:
    """Print the table, write ``results.csv`` and the pictures, name the best trial."""
    rows = sorted_rows(_rows(study), spec.direction)
    names = [p.name for p in spec.params]
    for line in table_lines(rows, names, spec.monitor):
        say(line)
    atomic_write(folder / _RESULTS, csv_text(rows, names, spec.monitor))
    say(f"Results: {folder / _RESULTS}")
    try:
        pictures = (
            [folder / HISTORY] if draw_history(rows, spec.monitor, spec.direction, folder / HISTORY) else []
        )
        if draw_importance(study, names, folder / IMPORTANCE, say):
            pictures.append(folder / IMPORTANCE)
    except ImportError as e:
        pictures = []
        say(f"No pictures: {e.name or 'matplotlib'} is not installed (pip install matplotlib)")
    if pictures:
        say(f"Pictures: {', '.join(str(p) for p in pictures)}")
    best = next((r for r in rows if r.state == "COMPLETE"), None)
    if best is not None:
        say(f"Best: trial {best.number} ({spec.monitor} = {_format(best.metric)}), run folder {best.folder}")
        if best.reproduce:
            say(f"Reproduce: {best.reproduce}")
    return rows


def _prepare(
    config: str, overrides: Sequence[str], safe: bool, allowed: Sequence[str]
) -> tuple[Any, SweepSpec]:
    parser = load(config, overrides, check_targets=not safe, safe=safe, allow=allowed if safe else None)
    validate_structure(parser.config, parser.location, sweep=True)
    check_stage(parser.config, Stage.FIT, parser.location)
    # So that a param naming a new argument of a project class is checked against its signature.
    import_configured_project(parser)
    return parser, parse_sweep(parser, name=Path(str(config).split(",")[0]).stem)


def _on_signals() -> dict[int, Any]:
    """Turn SIGINT/SIGTERM into :class:`Stop` while the sweep runs; return the handlers to restore."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handle(signum: int, frame: FrameType | None) -> None:
        raise Stop(signum)

    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, handle)
    return previous


def run_sweep(
    config: str,
    overrides: Sequence[str] = (),
    say: Any = print,
    *,
    safe: bool | None = None,
    allow: Sequence[str] = (),
) -> list[TrialRow]:
    """Run (or continue) the sweep of ``config`` until its study holds ``sweep#trials`` counted trials.

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
        Interrupted: SIGINT or SIGTERM stopped the sweep (after its results and pictures were saved).
    """
    from lighter.config.safety import allowed_packages, safe_requested

    safe = safe_requested() if safe is None else safe
    allowed = allowed_packages(allow) if safe else ()
    parser, spec = _prepare(config, overrides, safe, allowed)
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
    study = open_study(spec, url, parser)
    fail_lost_trials(study, say)
    if spec.start_with and not study.user_attrs.get("lighter_started_with"):
        study.set_user_attr("lighter_started_with", True)
        for point in spec.start_with:
            study.enqueue_trial(point, skip_if_exists=True)
    passthrough = _passthrough(overrides)
    if safe:  # each trial is a fit of its own: it checks the config again, in safe mode too
        passthrough += ["--safe", *(f"--allow={name}" for name in allowed)]
    ctx = {"spec": spec, "config": config, "passthrough": passthrough, "url": url}
    ctx |= {"folder": folder, "parser": parser}
    size = space_size(spec.params)
    say(f"Sweep '{spec.name}': {spec.trials} trials in {folder} (storage {url})")
    previous = _on_signals()
    stopped: Stop | None = None
    running: int | None = None
    try:
        while len(counted(study.get_trials(deepcopy=False))) < spec.trials:
            fail_lost_trials(study, say)  # a process sharing the study may have died meanwhile
            proposal = _propose(study, spec, size, say)
            if proposal is None:
                break
            trial, values = proposal
            before = [t for t in counted(study.get_trials(deepcopy=False)) if t.number < trial.number]
            if len(before) >= spec.trials:  # other processes took the last places meanwhile
                trial.set_user_attr(SKIPPED, "past the target")
                study.tell(trial, state=optuna_module().trial.TrialState.FAIL)
                break
            start, running = time.monotonic(), trial.number
            row = run_trial(study, trial, values, ctx)
            running = None
            shown = ", ".join(f"{k}={_format(v)}" for k, v in row.values.items())
            result = f"{spec.monitor} = {_format(row.metric)}" if row.metric is not None else "no value"
            why = f": {row.error}" if row.error else ""
            say(
                f"Trial {row.number} ({len(before) + 1}/{spec.trials}): {shown} -> {result} "
                f"({row.state}{why}, {time.monotonic() - start:.0f} s)"
            )
        taken = {params_key(dict(t.params)) for t in counted(study.get_trials(deepcopy=False))}
        if size is not None and len(taken) >= size:
            say(
                f"The grid is complete: all {size} combinations have run"
                if spec.sampler == "grid"
                else f"Every one of the {size} combinations of the params has run"
            )
    except Stop as stop:
        stopped = stop
    except BaseException:
        _finish(study, spec, folder, say=lambda line: None)  # keep the record; the error is the story
        raise
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    rows = _finish(study, spec, folder, say)
    if stopped is not None:
        name = signal.Signals(stopped.signum).name
        during = f" during trial {running} (marked failed; it runs again)" if running is not None else ""
        raise Interrupted(
            f"sweep '{spec.name}' stopped by {name}{during}; run the same command to continue",
            exit_status=128 + stopped.signum,
        )
    return rows
