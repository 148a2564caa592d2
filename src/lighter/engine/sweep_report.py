"""What ``lighter sweep`` leaves behind: each trial's ``trial.json``, the results table and ``results.csv``.

Every trial folder gets ``trial.json`` (written when the trial starts and again when it ends,
atomically, so a reader sees a whole record), the record ``lighter runs`` reads to show a trial's
params beside its run::

    {"study": "digits", "number": 3, "params": {"lr": 0.001}, "state": "COMPLETE", "value": 0.93}

``state`` is Optuna's: ``RUNNING``, ``COMPLETE``, ``PRUNED`` or ``FAIL``. Pure functions of the
study's frozen trials; Optuna itself is imported by the caller.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lighter.atomic import atomic_write

__all__ = [
    "TRIAL_RECORD",
    "TrialRow",
    "csv_text",
    "row_of",
    "sorted_rows",
    "table_lines",
    "write_trial_record",
]

TRIAL_RECORD = "trial.json"

_ORDER = {"COMPLETE": 0, "PRUNED": 1, "RUNNING": 2, "FAIL": 3}


@dataclass
class TrialRow:
    """One trial of the study, as the results table shows it."""

    number: int
    values: dict[str, Any]
    metric: float | None
    state: str  # COMPLETE, PRUNED, FAIL or RUNNING
    folder: str
    command: str  # the trial's own command (its run folder: the trial folder)
    error: str
    reproduce: str = ""  # the same run with the same values, in a folder of its own


def row_of(trial: Any) -> TrialRow:
    """The row of an Optuna ``FrozenTrial``: a pruned trial shows the last value it reported."""
    state = trial.state.name
    metric = trial.value if state == "COMPLETE" else None
    if state == "PRUNED" and trial.intermediate_values:
        metric = trial.intermediate_values[max(trial.intermediate_values)]
    return TrialRow(
        trial.number,
        dict(trial.params),
        metric,
        state,
        trial.user_attrs.get("run_folder") or trial.user_attrs.get("folder", ""),
        trial.user_attrs.get("command", ""),
        trial.user_attrs.get("error", ""),
        trial.user_attrs.get("reproduce", ""),
    )


def write_trial_record(
    folder: str | Path, study: str, number: int, params: Mapping[str, Any], state: str, value: float | None
) -> None:
    """Write ``folder/trial.json`` atomically (a missing folder is left alone: nothing to mark)."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    record = {"study": study, "number": number, "params": dict(params), "state": state, "value": value}
    atomic_write(folder / TRIAL_RECORD, json.dumps(record, indent=2) + "\n")


def sorted_rows(rows: Sequence[TrialRow], direction: str) -> list[TrialRow]:
    """Finished trials first, best first; then pruned, running and failed ones."""
    sign = -1 if direction == "maximize" else 1

    def key(row: TrialRow) -> tuple:
        has = row.metric is not None
        return (_ORDER.get(row.state, 4), not has, sign * row.metric if has else 0, row.number)

    return sorted(rows, key=key)


def _format(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def table_lines(rows: Sequence[TrialRow], names: Sequence[str], monitor: str) -> list[str]:
    """The results table as aligned text lines, header first."""
    header = ["trial", *names, monitor, "state"]
    body = [
        [
            str(r.number),
            *[_format(r.values.get(name, "")) for name in names],
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


def csv_text(rows: Sequence[TrialRow], names: Sequence[str], monitor: str) -> str:
    """``results.csv``: one line per trial, every state kept."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["trial", *names, monitor, "state", "error", "folder", "command"])
    for r in rows:
        metric = "" if r.metric is None else r.metric
        writer.writerow(
            [r.number, *[r.values.get(n, "") for n in names], metric, r.state, r.error, r.folder, r.command]
        )
    return out.getvalue()
