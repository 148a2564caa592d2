"""Evaluate a run from its folder: ``lighter validate|test|predict RUN_FOLDER [--id=value ...]``.

The stage takes the run's saved ``config.yaml`` and its best checkpoint (the one its
``ModelCheckpoint`` recorded as best), else its last, and says which it took and why. Everything
the stage writes stays inside the run folder, in a sub-folder of its own that no later invocation
overwrites (``RUN/test``, ``RUN/test-2``, ...): the config it ran with, its final metrics
(``metrics.csv``, ``metrics.json``), the logger's files (``logs/``) and the files of writers whose
paths are relative.

``args#<stage>#ckpt_path: best | last`` are resolved here from the run's checkpoints, so they work
in any process (Lightning knows the best checkpoint only in the process that trained it). For a
config that is not a run folder they are an error saying what to pass instead, and a stage that
would evaluate untrained weights says so (an explicit ``ckpt_path: null`` silences it).

Choosing is file-system work; torch is imported only to read a checkpoint's callback state when the
run has no record of its best checkpoint.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lighter.atomic import atomic_write, os_reason
from lighter.engine.records import read_record
from lighter.engine.resume import CHECKPOINTS, CONFIG_FILE, LAST, find_checkpoint
from lighter.engine.stages import Stage
from lighter.errors import COMMAND_LINE, Location, OutputError, StageError

__all__ = [
    "EVALUATING",
    "OUTPUT_ENV",
    "Evaluation",
    "Choice",
    "run_folder_config",
    "plan_evaluation",
    "choose_checkpoint",
    "new_output_folder",
    "redirect_outputs",
    "save_metrics",
    "resolve_resume",
    "decide_output",
    "output_scope",
    "untrained_note",
]

EVALUATING = (Stage.VALIDATE, Stage.TEST, Stage.PREDICT)
"""The stages that evaluate a checkpoint (and can run on a run folder)."""

OUTPUT_ENV = "LIGHTER_OUTPUT_FOLDER"
"""Carries the output sub-folder to the child processes of a multi-process evaluation."""

LOGS = "logs"
"""The sub-folder of an output folder the stage's logger writes into."""

_NAMES = ("best", "last")


@dataclass(frozen=True)
class Choice:
    """The checkpoint a stage loads, and why (printed at the start)."""

    path: Path
    reason: str


@dataclass
class Evaluation:
    """How a stage runs on a run folder, or the note a plain config's stage prints.

    Attributes:
        stage: The stage.
        folder: The run folder evaluated (absolute); ``None`` for a plain config.
        checkpoint: The checkpoint the stage loads; ``None`` when none (or Lightning chooses).
        reason: Why this checkpoint, printed at the start.
        note: The untrained-weights note, printed at the start.
        output: The sub-folder this invocation writes into, once decided.
    """

    stage: Stage
    folder: Path | None = None
    checkpoint: Path | None = None
    reason: str | None = None
    note: str | None = None
    output: Path | None = None


def run_folder_config(config: Any, stage: Stage) -> Path | None:
    """The saved config of the run folder ``config`` names for an evaluating ``stage``, else ``None``.

    For ``fit`` (which continues a run folder, :mod:`lighter.engine.resume`) only the record is checked.

    Raises:
        StageError: The folder is not a run folder, or its record cannot be extended (written by a
            newer lighter, or half-written).
    """
    if not isinstance(config, str | os.PathLike):
        return None
    text = os.fspath(config)
    if "," in text or not Path(text).is_dir():
        return None
    folder = Path(os.path.abspath(text))
    saved = folder / CONFIG_FILE
    if stage is Stage.FIT and saved.is_file():
        read_record(folder)  # continuing the run adds to its record: it must be one this lighter reads
    if stage not in EVALUATING:
        return None
    if not saved.is_file():
        raise StageError(
            f"'{text}' is not a run folder: it has no {CONFIG_FILE}",
            location=COMMAND_LINE,
            suggestion="give a folder lighter printed as 'Run folder:', or a config file",
        )
    read_record(folder)
    return saved


def _recorded_best(folder: Path) -> tuple[Path, str | None, Any] | None:
    """The best checkpoint the run's record names (its latest fit's), as ``(path, monitor, score)``."""
    record = read_record(folder) or {}
    for entry in reversed(record.get("entries", [])):
        best = entry.get("best") if isinstance(entry, Mapping) and entry.get("stage") == "fit" else None
        if isinstance(best, Mapping) and best.get("path"):
            found = _inside(folder, str(best["path"]))
            if found is not None:
                return found, best.get("monitor"), best.get("score")
    return None


def _inside(folder: Path, recorded: str) -> Path | None:
    """``recorded`` (relative to the run folder, or absolute where the run was) found in ``folder`` now.

    A run folder that was moved or copied keeps its checkpoints under ``checkpoints/``: an absolute
    path from before the move is looked up there by name.
    """
    path = Path(recorded)
    candidates = [folder / path] if not path.is_absolute() else [folder / CHECKPOINTS / path.name, path]
    return next((p for p in candidates if p.is_file()), None)


def _saved_best(folder: Path) -> tuple[Path, str | None, Any] | None:
    """The best checkpoint as the ModelCheckpoint state in the run's latest checkpoint records it."""
    latest = find_checkpoint(folder)
    if latest is None:
        return None
    import torch

    try:
        checkpoint = torch.load(latest, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - an unreadable checkpoint records nothing; the choice goes on
        return None
    states = checkpoint.get("callbacks", {}) if isinstance(checkpoint, Mapping) else {}
    for key, state in states.items():
        if (
            str(key).startswith("ModelCheckpoint")
            and isinstance(state, Mapping)
            and state.get("best_model_path")
        ):
            found = _inside(folder, str(state["best_model_path"]))
            if found is not None:
                score = state.get("best_model_score")
                return found, state.get("monitor"), float(score) if score is not None else None
    return None


def _shown(folder: Path, path: Path) -> str:
    try:
        return str(path.relative_to(folder))
    except ValueError:
        return str(path)


def choose_checkpoint(folder: Path, wanted: str | None, where: Location | str | None, id_: str) -> Choice:
    """The checkpoint of the run in ``folder`` to evaluate: ``wanted`` ``best``/``last``, or ``None`` (best, else last).

    Raises:
        StageError: ``best`` asked for and no best was recorded, or no checkpoint at all.
    """
    best = _recorded_best(folder) or _saved_best(folder)
    last = find_checkpoint(folder)
    if wanted == "last":
        if last is None:
            raise StageError(
                f"run folder '{folder}' has no checkpoint (looked for *.ckpt in {folder / CHECKPOINTS})",
                id=id_,
                location=where,
            )
        why = "the last one" if last.name == LAST else f"the newest one, as there is no {LAST}"
        return Choice(last, f"{why}: ckpt_path is last")
    if best is not None and (best[1] is not None or wanted == "best"):
        path, monitor, score = best
        judged = f" by {monitor} = {score:.4g}" if monitor and isinstance(score, int | float) else ""
        return Choice(path, f"the best{judged}, as its ModelCheckpoint recorded")
    if wanted == "best":
        raise StageError(
            f"run folder '{folder}' has no best checkpoint (no ModelCheckpoint recorded one)",
            id=id_,
            location=where,
            suggestion="use ckpt_path: last, or give a checkpoint path",
        )
    if last is not None:
        return Choice(last, "the last one: its ModelCheckpoint monitors nothing, so it recorded no best")
    if best is not None:
        return Choice(best[0], "the ModelCheckpoint's latest (it monitors nothing)")
    raise StageError(
        f"run folder '{folder}' has no checkpoint to evaluate (looked for *.ckpt in {folder / CHECKPOINTS})",
        location=COMMAND_LINE,
        suggestion=f"give one with --args#<stage>#ckpt_path=PATH, or {CONFIG_FILE} and ckpt_path: null "
        "to evaluate the weights the config builds",
    )


def untrained_note(stage: Stage) -> str:
    """The one line a stage prints before it evaluates weights no checkpoint gave."""
    return (
        f"Note: no checkpoint given: {stage.value} evaluates untrained (randomly initialised) weights. "
        f"Give a run folder (lighter {stage.value} RUN_FOLDER) or --args#{stage.value}#ckpt_path=PATH; "
        "ckpt_path: null says the config loads its own weights."
    )


def plan_evaluation(parser: Any, stage: Stage, folder: Path | None) -> Evaluation | None:
    """How ``stage`` runs: on the run ``folder`` (its checkpoint chosen), or on a plain config.

    ``best`` and ``last`` are resolved from the run folder's checkpoints; for a plain config
    ``best`` (and, for the evaluating stages, ``last``) is an error at ``ckpt_path``'s location,
    since only the process that trained knows them. A plain config's evaluating stage without any
    ``ckpt_path`` gets the untrained-weights note.

    Raises:
        StageError: See :func:`choose_checkpoint`; ``best``/``last`` for a plain config.
    """
    id_ = f"args#{stage.value}#ckpt_path"
    given = id_ in parser
    wanted = parser.get(id_) if given else None
    where = parser.location(id_) or COMMAND_LINE
    if folder is not None:
        if given and wanted not in _NAMES:
            return Evaluation(stage, folder)  # a path, or null: the user's choice
        choice = choose_checkpoint(folder, wanted, where, id_)
        return Evaluation(
            stage, folder, choice.path, f"Checkpoint: {_shown(folder, choice.path)} ({choice.reason})"
        )
    names = _NAMES if stage in EVALUATING else ("best",) if stage is Stage.FIT else ()
    if given and isinstance(wanted, str) and wanted in names:
        raise StageError(
            f"ckpt_path: {wanted} needs a run folder, and this config is not one: lighter finds a run's "
            "checkpoints from its folder",
            id=id_,
            location=where,
            suggestion=f"give the run folder (lighter {stage.value} RUN_FOLDER), or a checkpoint path "
            f"(--{id_}=RUN_FOLDER/checkpoints/last.ckpt)",
        )
    if stage in EVALUATING and not given:
        return Evaluation(stage, note=untrained_note(stage))
    return None


def _number(entry: str, name: str) -> int | None:
    """1 for ``name``, N for ``name-N``, ``None`` for any other folder name."""
    if entry == name:
        return 1
    rest = entry.removeprefix(f"{name}-")
    return int(rest) if rest != entry and rest.isdigit() else None


def new_output_folder(folder: Path, stage: Stage) -> Path:
    """Create and return ``folder/<stage>``, else ``<stage>-2``, ``<stage>-3`` … (one above every existing).

    ``mkdir`` without ``exist_ok`` is the lock: two invocations at once get different folders.

    Raises:
        OutputError: The folder cannot be created (the OS reason is given).
    """
    name = stage.value
    try:
        numbers = [n for p in folder.iterdir() if (n := _number(p.name, name)) is not None]
    except OSError as error:
        raise OutputError(
            f"cannot list the run folder {folder}: {os_reason(error)}", path=str(folder)
        ) from error
    number = max(numbers, default=0) + 1
    while True:
        path = folder / (name if number == 1 else f"{name}-{number}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            number += 1
        except OSError as error:
            raise OutputError(
                f"cannot create the output folder {path}: {os_reason(error)}", path=str(path)
            ) from error


def redirect_outputs(trainer: Any, output: Path) -> None:
    """Point the stage's loggers and its writers' relative paths into ``output``.

    CSV and TensorBoard loggers write into ``output/logs`` (``logs-<i>`` for further ones) instead
    of opening a new ``version_N`` elsewhere; loggers with a store of their own (MLflow, W&B) keep
    it. ``FileWriter``/``TableWriter`` paths that are relative become relative to ``output``.
    """
    from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger

    from lighter.callbacks import FileWriter, TableWriter

    index = 0
    for logger in trainer.loggers:
        if not isinstance(logger, CSVLogger | TensorBoardLogger):
            continue
        # Both read their folder from these attributes, which have no setter; nothing has asked
        # for the folder yet (the experiment is created when the stage starts).
        logger._root_dir = os.fspath(output)
        if hasattr(logger, "_save_dir"):
            logger._save_dir = os.fspath(output)
        logger._name = ""
        logger._version = LOGS if index == 0 else f"{LOGS}-{index}"
        index += 1
    for callback in trainer.callbacks:
        if isinstance(callback, FileWriter | TableWriter) and not callback.path.is_absolute():
            callback.path = output / callback.path


def save_metrics(output: Path, metrics: Mapping[str, float]) -> None:
    """Write the stage's final ``metrics`` as ``metrics.json`` and ``metrics.csv`` (a header, one row).

    Raises:
        OutputError: A file cannot be written.
    """
    buffer = io.StringIO(newline="")
    table = csv.writer(buffer)
    table.writerow(list(metrics))
    table.writerow([repr(float(v)) for v in metrics.values()])
    for name, text in (
        ("metrics.json", json.dumps(dict(metrics), indent=2, allow_nan=True) + "\n"),
        ("metrics.csv", buffer.getvalue()),
    ):
        try:
            atomic_write(output / name, text)
        except OSError as error:
            path = output / name
            raise OutputError(f"cannot write {path}: {os_reason(error)}", path=str(path)) from error


def resolve_resume(parser: Any, resume: Any) -> Any:
    """A continued run whose ``args#fit#ckpt_path`` is ``best``/``last``: that checkpoint of its folder."""
    id_ = "args#fit#ckpt_path"
    if resume is None or resume.checkpoint is not None or parser.get(id_) not in _NAMES:
        return resume
    choice = choose_checkpoint(resume.folder, parser.get(id_), parser.location(id_) or COMMAND_LINE, id_)
    return type(resume)(resume.folder, resume.config, choice.path)


def decide_output(evaluation: Evaluation, launch: Any = None) -> Path:
    """Decide (once) the output sub-folder of an evaluation on a run folder, the same in every process.

    Process 0 creates it; the child processes Lightning's launcher starts find it in
    :data:`OUTPUT_ENV`, and the ranks of torchrun or SLURM receive it from rank 0.
    """
    if evaluation.output is not None:
        return evaluation.output
    if evaluation.folder is None:
        raise ValueError("decide_output needs an evaluation of a run folder")
    inherited = os.environ.get(OUTPUT_ENV, "")
    if inherited and Path(inherited).parent == evaluation.folder and Path(inherited).is_dir():
        evaluation.output = Path(inherited)
    else:
        from lighter.engine.launchers import agree

        folder, stage = evaluation.folder, evaluation.stage
        evaluation.output = Path(
            agree("output-folder", lambda: str(new_output_folder(folder, stage)), launch)
        )
    os.environ[OUTPUT_ENV] = str(evaluation.output)
    return evaluation.output


@contextlib.contextmanager
def output_scope() -> Iterator[None]:
    """Restore :data:`OUTPUT_ENV` after a run, so the next run in this process decides its own."""
    previous = os.environ.get(OUTPUT_ENV)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(OUTPUT_ENV, None)
        else:
            os.environ[OUTPUT_ENV] = previous
