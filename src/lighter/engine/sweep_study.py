"""The Optuna side of ``lighter sweep``: storage, study, sampler, and which trials count.

A trial counts toward ``sweep#trials`` when it ran to an end of its own (complete, pruned, or
failed with an error) or is running in a live process. A trial whose process died (the sweep was
killed, the trial's process was killed, the machine went down) or was stopped by a signal is
*lost*: marked ``FAIL`` with the reason in its ``lost`` attribute, never counted, and its values
may run again. Dead owners are found two ways when a sweep starts and before each trial:

- on this machine, by the pid each trial records (``lighter_host``, ``lighter_pid``): a pid that
  no longer runs is a dead sweep, at once;
- on any machine, by Optuna's heartbeat: the sweep beats for its running trial every
  :data:`HEARTBEAT_S` seconds, and a trial silent for :data:`GRACE_S` is failed by Optuna.

Optuna is imported only here, when a sweep runs.
"""

from __future__ import annotations

import json
import os
import socket
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lighter.atomic import os_reason
from lighter.engine.sweep_report import write_trial_record
from lighter.engine.sweep_spec import SweepSpec, grid_values
from lighter.errors import ConfigError, MissingDependencyError

__all__ = [
    "GRACE_S",
    "HEARTBEAT_S",
    "SKIPPED",
    "beat",
    "counted",
    "fail_lost_trials",
    "is_lost",
    "lost_reason",
    "make_pruner",
    "make_sampler",
    "open_storage",
    "open_study",
    "optuna_module",
    "params_key",
    "record_owner",
    "trial_id",
]

SKIPPED = "lighter_skipped"  # asked for but never run (past the target, or a repeat): not a result
HEARTBEAT_S = 30
GRACE_S = 120
_LOST = "lost"
_HOST, _PID = "lighter_host", "lighter_pid"


def optuna_module() -> Any:
    """``optuna``, quiet (the sweep prints its own lines), or a hint to install it."""
    try:
        import optuna
    except ImportError as e:
        raise MissingDependencyError(
            "lighter sweep needs Optuna, which is not installed",
            suggestion="pip install 'lighter[sweep]' (or pip install optuna)",
        ) from e
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # The heartbeat is used with ask/tell on purpose (the sweep beats for its trials itself).
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
    return optuna


def open_storage(url: str, heartbeat: bool = False) -> Any:
    """An Optuna storage for ``url``; SQLite waits for a busy file instead of failing at once.

    Args:
        heartbeat: The sweep's own storage: running trials beat, and silent ones are failed.
    """
    optuna = optuna_module()
    engine = {"connect_args": {"timeout": 120}} if url.startswith("sqlite") else None
    if not heartbeat:
        return optuna.storages.RDBStorage(url, engine_kwargs=engine)
    return optuna.storages.RDBStorage(
        url,
        engine_kwargs=engine,
        heartbeat_interval=HEARTBEAT_S,
        grace_period=GRACE_S,
        heartbeat_stale_trial_callback=_mark_folder_failed,
    )


def make_pruner(type: str, startup_trials: int, warmup_steps: int) -> Any:  # noqa: A002 - sweep#pruner#type
    """The Optuna pruner of ``sweep#pruner`` (the sweep and each trial's process build the same one)."""
    optuna = optuna_module()
    if type == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=startup_trials, n_warmup_steps=warmup_steps)
    return optuna.pruners.NopPruner()


def make_sampler(spec: SweepSpec, existing: int) -> Any:
    """The sampler of ``sweep#sampler``, seeded from ``sweep#seed`` and the study's size.

    A continued study must not draw the first run's values again: the seed is ``seed + existing``
    (the number of trials the study holds), so a seeded study continues deterministically with
    new values, and the same command on the same study repeats exactly.
    """
    optuna = optuna_module()
    seed = None if spec.seed is None else spec.seed + existing
    if spec.sampler == "grid":
        space = {p.name: list(grid_values(p) or ()) for p in spec.params}

        class Grid(optuna.samplers.GridSampler):
            def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
                # GridSampler ends a finished grid with Study.stop, which works only inside
                # Study.optimize; the sweep (ask and tell) sees a finished grid itself.
                pass

        return Grid(space, seed=seed)
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def _check_sqlite_folder(url: str, location: Any) -> None:
    """Create the folder of a SQLite file (SQLite would say only "unable to open database file")."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url[len(prefix) :] in ("", ":memory:"):
        return
    folder = Path(url[len(prefix) :]).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(
            f"cannot open the sweep storage '{url}': cannot create its folder {folder}: {os_reason(e)}",
            id="sweep#storage",
            location=location,
        ) from e


def open_study(spec: SweepSpec, url: str, parser: Any) -> Any:
    """Open (or create) the study of ``spec`` in ``url``; its sampler knows how many trials it holds.

    Raises:
        ConfigError: The storage cannot be opened (which one, and why), or holds the study with
            the other direction.
    """
    optuna = optuna_module()
    location = parser.location("sweep#storage") or parser.location("sweep")
    _check_sqlite_folder(url, location)
    pruner = make_pruner(spec.pruner, spec.startup_trials, spec.warmup_steps)
    last: Exception | None = None
    study = None
    for attempt in range(3):  # processes starting together may race to create the tables
        try:
            study = optuna.create_study(
                study_name=spec.name,
                storage=open_storage(url, heartbeat=True),
                direction=spec.direction,
                pruner=pruner,
                load_if_exists=True,
            )
            break
        except ImportError as e:  # the database's driver: no use trying again
            last = e
            break
        except Exception as e:  # noqa: BLE001 - any failure to open the database is the user's to fix
            last = e
            time.sleep(0.5 * (attempt + 1))
    if study is None:
        reason = os_reason(last) if isinstance(last, OSError) else str(last).strip().splitlines()[0]
        hint = "install the database's driver" if isinstance(last, ImportError) else None
        raise ConfigError(
            f"cannot open the sweep storage '{url}': {reason}",
            id="sweep#storage",
            location=location,
            suggestion=hint,
        ) from last
    if study.direction.name.lower() != spec.direction:
        raise ConfigError(
            f"study '{spec.name}' in {url} already runs with direction {study.direction.name.lower()}",
            id="sweep#direction",
            location=parser.location("sweep#direction"),
            suggestion="keep the direction, or give the sweep another name (sweep#name)",
        )
    study.sampler = make_sampler(spec, len(study.get_trials(deepcopy=False)))
    return study


def is_lost(trial: Any) -> bool:
    """A failed trial that did not fail on its own: its process died or was stopped by a signal."""
    return trial.state.name == "FAIL" and "error" not in trial.user_attrs


def counted(trials: Sequence[Any]) -> list[Any]:
    """Trials that count toward ``sweep#trials``: not skipped, not merely queued, not lost."""
    return [
        t for t in trials if not t.user_attrs.get(SKIPPED) and t.state.name != "WAITING" and not is_lost(t)
    ]


def params_key(params: dict[str, Any]) -> str:
    """A trial's values as one comparable text (so a repeat of finished values is found)."""
    return json.dumps(params, sort_keys=True, default=str)


def record_owner(trial: Any) -> None:
    """Note which process runs ``trial`` (to find it lost if that process dies)."""
    trial.set_user_attr(_HOST, socket.gethostname())
    trial.set_user_attr(_PID, os.getpid())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: it exists
    try:  # a killed process its parent has not reaped yet runs no more
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def trial_id(study: Any, number: int) -> int:
    """The storage's id of trial ``number`` of ``study``."""
    storage = study._storage  # noqa: SLF001 - the study's own storage, for its public calls
    return storage.get_trial_id_from_study_id_trial_number(
        storage.get_study_id_from_name(study.study_name), number
    )


def beat(study: Any, number: int) -> None:
    """Record that trial ``number`` still runs (Optuna fails it after :data:`GRACE_S` without)."""
    study._storage.record_heartbeat(trial_id(study, number))  # noqa: SLF001 - see trial_id


def lost_reason(trial: Any) -> str:
    """Why a lost trial was lost, for the results table."""
    return trial.user_attrs.get(_LOST) or "its process stopped without a result"


def _mark_folder_failed(study: Any, trial: Any) -> None:
    folder = trial.user_attrs.get("folder")
    if folder:
        write_trial_record(folder, study.study_name, trial.number, trial.params, "FAIL", None)


def fail_lost_trials(study: Any, say: Any) -> list[int]:
    """Mark FAIL every running trial whose sweep process is gone; return their numbers.

    Raises nothing for a trial another process finishes meanwhile (it is left as that one told).
    """
    optuna = optuna_module()
    lost = []
    host = socket.gethostname()
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        pid = trial.user_attrs.get(_PID)
        if trial.user_attrs.get(_HOST) != host or not isinstance(pid, int) or _alive(pid):
            continue
        try:
            study._storage.set_trial_user_attr(  # noqa: SLF001 - Optuna has no public handle for this
                trial_id(study, trial.number), _LOST, f"its sweep process ({pid}) died"
            )
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
        except (RuntimeError, ValueError):  # finished by someone else just now
            continue
        _mark_folder_failed(study, trial)
        lost.append(trial.number)
    lost += [t.number for t in _fail_stale(study)]
    if lost:
        say(f"Marked as failed (their process died): trial {', '.join(map(str, sorted(lost)))}")
    return lost


def _fail_stale(study: Any) -> list[Any]:
    """Trials whose heartbeat stopped (any machine): Optuna fails them and calls the folder callback."""
    optuna = optuna_module()
    before = {t.number for t in study.get_trials(deepcopy=False) if t.state.name == "RUNNING"}
    optuna.storages.fail_stale_trials(study)
    return [t for t in study.get_trials(deepcopy=False) if t.number in before and t.state.name == "FAIL"]
