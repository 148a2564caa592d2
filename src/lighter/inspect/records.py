"""Read run records: ``RUN/run.json`` (and a sweep trial's ``trial.json``) into :class:`Run` values.

Reading is all this module does, with the standard library only: ``lighter runs`` must answer
instantly on hundreds of runs, so nothing here may import torch or Lightning. A record that cannot
be trusted (not JSON, half-written, missing fields, written by a newer lighter) is a
:class:`RecordError` naming the file; the listing turns it into a one-line note and goes on.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lighter.errors import COMMAND_LINE, LighterError, Location

__all__ = [
    "RECORD_FILE",
    "TRIAL_FILE",
    "RECORD_VERSION",
    "RecordError",
    "Run",
    "read_run",
    "find_runs",
    "open_run",
]

RECORD_FILE = "run.json"
TRIAL_FILE = "trial.json"
RECORD_VERSION = 1
"""The newest ``lighter_record`` version this lighter reads."""

# Folders a search for runs never enters: tools' caches and environments hold thousands of files
# and no runs, and walking them would make the listing slow in a project's root.
_SKIPPED = frozenset({"__pycache__", "node_modules", "site-packages"})

_RESULT_STAGES = ("fit", "validate", "test")
"""Stages whose final metrics are results worth tabulating (predict and the tuners log none)."""


class RecordError(LighterError, ValueError):
    """A run record that cannot be read: not JSON, half-written, missing fields, or too new."""


@dataclass(frozen=True)
class Run:
    """One run, as its record describes it.

    Attributes:
        folder: The run folder (where ``run.json`` was found; the record's own ``run_folder`` is
            informative only, the folder may have been moved).
        config: The fit config, flattened: one entry per leaf id.
        sources: Where each flat value came from (``file:line`` or ``command line``).
        entries: One mapping per stage invocation on the folder, in order.
        trial: The sweep trial's ``trial.json`` when the run is a trial, else ``None``.
    """

    folder: Path
    config: Mapping[str, Any]
    sources: Mapping[str, str]
    entries: tuple[Mapping[str, Any], ...]
    trial: Mapping[str, Any] | None = None

    @property
    def stages(self) -> list[str]:
        return [str(entry["stage"]) for entry in self.entries]

    @property
    def outcome(self) -> str:
        """The outcome of the last invocation (``running`` while it runs)."""
        return str(self.entries[-1]["outcome"])

    @property
    def error(self) -> str | None:
        return self.entries[-1].get("error")

    @property
    def started(self) -> str | None:
        return self.entries[0].get("started")

    @property
    def duration_s(self) -> float | None:
        """Time spent in all finished invocations together; ``None`` when none has finished."""
        durations = [e["duration_s"] for e in self.entries if isinstance(e.get("duration_s"), int | float)]
        return float(sum(durations)) if durations else None

    @property
    def best(self) -> Mapping[str, Any] | None:
        """The best checkpoint of the latest invocation that recorded one (a fit, normally)."""
        for entry in reversed(self.entries):
            if isinstance(entry.get("best"), Mapping) and entry["best"].get("monitor"):
                return entry["best"]
        return None

    @functools.cached_property
    def results(self) -> dict[str, dict[str, float]]:
        """Final metrics per stage: the latest fit, validate and test invocations that logged any."""
        found: dict[str, dict[str, float]] = {}
        for entry in self.entries:
            metrics = entry.get("metrics")
            if entry["stage"] in _RESULT_STAGES and isinstance(metrics, Mapping) and metrics:
                found[entry["stage"]] = {str(k): v for k, v in metrics.items()}
        return found

    @property
    def params(self) -> dict[str, Any]:
        """A sweep trial's sampled values (empty for a run that is not a trial)."""
        params = (self.trial or {}).get("params")
        return dict(params) if isinstance(params, Mapping) else {}


def _load_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise RecordError(
            f"cannot read the run record: {error.strerror or error}", location=str(path)
        ) from error
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        # An empty or cut-off file is what a record looks like while (or after failing while) being written.
        raise RecordError(
            # The location has the position; json's "... starting at" expects it after the message.
            f"the run record is not valid JSON: {error.msg.removesuffix(' starting at')}",
            location=Location(str(path), error.lineno, error.colno),
            suggestion="half-written or edited by hand",
        ) from error


def _check_record(data: Any, path: Path) -> None:
    where = str(path)
    if not isinstance(data, dict):
        raise RecordError("the run record is not a JSON object", location=where)
    version = data.get("lighter_record")
    if not isinstance(version, int) or isinstance(version, bool):
        raise RecordError("the run record has no 'lighter_record' version number", location=where)
    if version > RECORD_VERSION:
        raise RecordError(
            f"the run record was written by a newer lighter (record version {version}; "
            f"this lighter reads version {RECORD_VERSION})",
            location=where,
            suggestion="upgrade lighter: pip install -U lighter",
        )
    for key, kind in (("config", dict), ("entries", list)):
        if not isinstance(data.get(key), kind):
            raise RecordError(
                f"the run record has no '{key}' {'mapping' if kind is dict else 'list'}", location=where
            )
    if not data["entries"]:
        raise RecordError("the run record has no entries", location=where)
    for number, entry in enumerate(data["entries"]):
        missing = [
            k
            for k in ("stage", "outcome")
            if not isinstance(entry, dict) or not isinstance(entry.get(k), str)
        ]
        if missing:
            raise RecordError(f"entry {number} of the run record is missing '{missing[0]}'", location=where)
        for key, kinds, what in _ENTRY_FIELDS:
            if entry.get(key) is not None and not _is(entry[key], kinds):
                raise RecordError(
                    f"entry {number} of the run record has a '{key}' that is not {what}", location=where
                )
        best = entry.get("best")
        if best is not None and not isinstance(best.get("monitor"), str | None):
            raise RecordError(
                f"entry {number} of the run record has a 'best' monitor that is not text", location=where
            )
    if not isinstance(data.get("sources", {}), dict):
        raise RecordError("the run record has 'sources' that are not a mapping", location=where)


def _is(value: Any, kinds: tuple[type, ...]) -> bool:
    return isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)


# Optional fields of an entry the listing reads, with the type each must have when it is not null.
_ENTRY_FIELDS = (
    ("started", (str,), "text"),
    ("duration_s", (int, float), "a number"),
    ("error", (str,), "text"),
    ("best", (dict,), "a mapping"),
    ("metrics", (dict,), "a mapping"),
)


def read_run(folder: str | os.PathLike[str]) -> Run:
    """Read the run in ``folder`` (which holds ``run.json``).

    Raises:
        RecordError: The record (or the trial's ``trial.json``) cannot be trusted; the error is
            located at the file.
    """
    folder = Path(folder)
    path = folder / RECORD_FILE
    data = _load_json(path)
    _check_record(data, path)
    trial = None
    if (folder / TRIAL_FILE).is_file():
        trial = _load_json(folder / TRIAL_FILE)
        if not isinstance(trial, dict):
            raise RecordError("the trial record is not a JSON object", location=str(folder / TRIAL_FILE))
    sources = data.get("sources")
    return Run(
        folder=folder,
        config=data["config"],
        sources=sources if isinstance(sources, dict) else {},
        entries=tuple(data["entries"]),
        trial=trial,
    )


def _natural(path: Path) -> list[Any]:
    # version_2 before version_10, as a person numbers them.
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.as_posix())]


def _record_folders(root: Path) -> Iterator[Path]:
    for folder, subfolders, files in os.walk(root):
        if RECORD_FILE in files:
            # A run's sub-folders hold its checkpoints and its stages' outputs, never another run.
            subfolders[:] = []
            yield Path(folder)
        else:
            subfolders[:] = [s for s in subfolders if not s.startswith(".") and s not in _SKIPPED]


def find_runs(root: str | os.PathLike[str]) -> tuple[list[Run], list[str]]:
    """Every run under ``root`` (``root`` itself included), in folder order, and one note per bad record.

    Raises:
        LighterError: ``root`` is not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        what = "does not exist" if not root.exists() else "is not a folder"
        raise LighterError(f"'{root}' {what}", location=COMMAND_LINE, suggestion="lighter runs [ROOT]")
    runs, notes = [], []
    for folder in sorted(_record_folders(root), key=_natural):
        try:
            runs.append(read_run(folder))
        except RecordError as error:
            notes.append(f"skipped {str(error).splitlines()[0]}")
    return runs, notes


def open_run(path: str | os.PathLike[str]) -> Run:
    """The run in folder ``path`` as the user named it on the command line.

    Raises:
        LighterError: ``path`` is not a run folder (with the closest sibling run folder, if any).
        RecordError: Its record cannot be trusted.
    """
    folder = Path(path)
    if folder.name == RECORD_FILE and folder.is_file():
        folder = folder.parent
    if (folder / RECORD_FILE).is_file():
        return read_run(folder)
    if not folder.exists():
        reason = "does not exist"
    elif not folder.is_dir():
        reason = "is not a folder"
    else:
        reason = f"has no {RECORD_FILE}"
        below = sum(1 for _ in _record_folders(folder))
        if below:
            raise LighterError(
                f"'{path}' is not a run folder: it holds {below} run{'s' if below != 1 else ''} below it",
                location=COMMAND_LINE,
                suggestion=f"lighter runs {path} lists them",
            )
    parent = folder.parent if str(folder.parent) else Path(".")
    siblings = []
    if parent.is_dir():
        siblings = [p.name for p in parent.iterdir() if (p / RECORD_FILE).is_file()]
    raise LighterError(
        f"'{path}' is not a run folder: it {reason}",
        location=COMMAND_LINE,
        suggestion=_sibling_hint(folder.name, parent, sorted(siblings, key=lambda n: _natural(Path(n)))),
    )


def _sibling_hint(name: str, parent: Path, siblings: list[str]) -> str:
    """Did-you-mean among the run folders beside ``name``; all of them when several are as close."""
    scores = {s: difflib.SequenceMatcher(None, name, s).ratio() for s in siblings}
    best = max(scores.values(), default=0.0)
    closest_ones = [s for s, score in scores.items() if score == best and score >= 0.6]
    if len(closest_ones) == 1:
        return f"did you mean '{parent / closest_ones[0]}'?"
    if closest_ones:  # version_5 is as close to version_0 as to version_3: list them rather than guess
        shown = ", ".join(closest_ones[:6]) + (", ..." if len(closest_ones) > 6 else "")
        return f"run folders in {parent}: {shown}"
    return "give a folder lighter printed as 'Run folder:'; lighter runs lists them"
