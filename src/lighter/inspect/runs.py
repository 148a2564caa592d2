"""``lighter runs [ROOT]``: one row per run, with only the config values that differ between them.

The table is built from run records alone (:mod:`lighter.inspect.records`), so listing hundreds of
runs takes no longer than reading their ``run.json`` files. A row holds the run's folder, stages,
outcome, start and duration, a sweep trial's params, the config values that differ between the
listed runs, the best monitored value and the final metrics. Cells keep their raw values; only
:func:`render` turns them into text, so CSV and JSON stay exact while the table rounds.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lighter.errors import COMMAND_LINE, LighterError, closest, did_you_mean
from lighter.inspect.records import RECORD_FILE, Run, find_runs

__all__ = [
    "FORMATS",
    "RunTable",
    "differing_config",
    "metric_columns",
    "tabulate",
    "sort_table",
    "render",
    "list_runs",
]

FORMATS = ("table", "csv", "json", "markdown")

_RUN_COLUMNS = ("folder", "stages", "outcome", "start", "duration")
_MISSING = object()  # a config id one run sets and another does not: that differs too


@dataclass(frozen=True)
class RunTable:
    """Rows of raw values under named columns.

    Attributes:
        columns: Column names in display order; each is also what ``--sort`` accepts.
        rows: One mapping per run, column name to value (``None`` for an empty cell).
        sortable: Further names ``--sort`` accepts (config ids that are the same in every run).
        results: The columns of results (best monitored values, final metrics), which ``--metric`` selects.
    """

    columns: list[str]
    rows: list[dict[str, Any]]
    sortable: list[str]
    results: tuple[str, ...] = ()


def differing_config(runs: Sequence[Run]) -> list[str]:
    """Config ids whose value is not the same in every run (set in one run only counts), in config order.

    Values of different types differ (``1`` and ``1.0``, ``1`` and ``true``), as they do in a config.
    """
    if len(runs) < 2:
        return []
    differing = []
    for key in dict.fromkeys(key for run in runs for key in run.config):
        first = runs[0].config.get(key, _MISSING)
        kind = type(first)
        if any(
            type(value) is not kind or value != first for value in (r.config.get(key, _MISSING) for r in runs)
        ):
            differing.append(key)
    return differing


def metric_columns(runs: Sequence[Run]) -> dict[tuple[str, str], str]:
    """Column name of each ``(stage, metric)``: the metric's name, or ``stage:name`` when several stages log it.

    ``val/loss/epoch`` is logged by fit and by validate; the two values mean different things (the
    last epoch's and the evaluated checkpoint's), so both get a column named after their stage.
    """
    stages_of: dict[str, set[str]] = {}
    for run in runs:
        for stage, metrics in run.results.items():
            for name in metrics:
                stages_of.setdefault(name, set()).add(stage)
    pairs = sorted(
        {(stage, name) for run in runs for stage, metrics in run.results.items() for name in metrics}
    )
    return {
        (stage, name): name if len(stages_of[name]) == 1 else f"{stage}:{name}"
        for stage, name in sorted(pairs, key=lambda p: (p[1], p[0]))
    }


def _relative(folder: Path, root: Path) -> str:
    try:
        return Path(os.path.relpath(folder, root)).as_posix()
    except ValueError:  # another drive on Windows
        return folder.as_posix()


def _trial_label(run: Run) -> str | None:
    if run.trial is None:
        return None
    study, number = run.trial.get("study"), run.trial.get("number")
    return f"{study}#{number}" if study is not None else str(number)


def tabulate(runs: Sequence[Run], root: str | os.PathLike[str]) -> RunTable:
    """The table of ``runs``, folders shown relative to ``root``."""
    root = Path(root)
    differing = differing_config(runs)
    trials = any(run.trial is not None for run in runs)
    params = [
        name
        for name in dict.fromkeys(p for run in runs for p in run.params)
        if not any(name in run.config for run in runs)  # a param named by its id is a config column already
    ]
    monitors = list(dict.fromkeys(run.best["monitor"] for run in runs if run.best is not None))
    metrics = metric_columns(runs)

    columns = [*_RUN_COLUMNS]
    if trials:
        columns += ["trial", "trial state"]
    results = (*(f"best {m}" for m in monitors), *metrics.values())
    columns += [*params, *differing, *results]

    rows = []
    for run in runs:
        row: dict[str, Any] = dict.fromkeys(columns)
        row.update(
            folder=_relative(run.folder, root),
            stages=",".join(run.stages),
            outcome=run.outcome,
            start=run.started,
            duration=run.duration_s,
        )
        if trials:
            row["trial"] = _trial_label(run)
            row["trial state"] = (run.trial or {}).get("state")
        row.update({name: run.params.get(name) for name in params})
        row.update({key: run.config.get(key) for key in differing})
        if run.best is not None:
            row[f"best {run.best['monitor']}"] = run.best.get("score")
        for stage, values in run.results.items():
            row.update({metrics[(stage, name)]: value for name, value in values.items()})
        rows.append(row)
    shown = set(columns)
    sortable = [key for key in dict.fromkeys(k for run in runs for k in run.config) if key not in shown]
    table = RunTable(columns, rows, sortable, results)
    return sort_table(table, "start")


def _order(value: Any) -> tuple[int, Any]:
    # Numbers before text, so a column mixing both still sorts; within each kind the natural order.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (2, json.dumps(value, sort_keys=True, default=repr))


def sort_table(table: RunTable, key: str) -> RunTable:
    """``table`` sorted by column ``key`` (``-key``: descending); empty cells stay last.

    ``best`` names the best monitored value when all runs monitor the same one.

    Raises:
        LighterError: ``key`` names no column (with the closest one).
    """
    descending = key.startswith("-")
    name = key[1:] if descending else key
    best = [c for c in table.columns if c.startswith("best ")]
    if name == "best" and len(best) == 1:
        name = best[0]
    if name not in table.columns:
        if name in table.sortable:
            return table  # a config value that is the same in every run: nothing to order by
        raise LighterError(
            f"--sort '{key}' names no column of the runs listed",
            location=COMMAND_LINE,
            suggestion=_column_hint(name, table),
        )
    present = [row for row in table.rows if row[name] is not None]
    empty = [row for row in table.rows if row[name] is None]
    present.sort(key=lambda row: _order(row[name]), reverse=descending)
    return RunTable(table.columns, present + empty, table.sortable, table.results)


def select_results(table: RunTable, patterns: Sequence[str]) -> RunTable:
    """``table`` with only the result columns that match one of ``patterns`` (names or globs: ``test/*``).

    A pattern matches a column by its name, its metric without the stage (``fit:val/loss/epoch``)
    or, for a best value, its monitor (``best val/loss/epoch``).

    Raises:
        LighterError: A pattern matches no result column (with the closest one).
    """

    def names(column: str) -> list[str]:
        return [column, column.partition(":")[2] or column, column.removeprefix("best ")]

    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(n, pattern) for c in table.results for n in names(c)):
            hint = did_you_mean(pattern, [n for c in table.results for n in names(c)])
            raise LighterError(
                f"--metric '{pattern}' matches no metric of the runs listed",
                location=COMMAND_LINE,
                suggestion=hint or "metrics: " + ", ".join(table.results),
            )
    dropped = {
        c for c in table.results if not any(fnmatch.fnmatchcase(n, p) for p in patterns for n in names(c))
    }
    columns = [c for c in table.columns if c not in dropped]
    rows = [{c: row[c] for c in columns} for row in table.rows]
    return RunTable(columns, rows, table.sortable, tuple(c for c in table.results if c not in dropped))


def _column_hint(name: str, table: RunTable) -> str:
    # A metric logged by several stages has a column per stage ("fit:val/loss/epoch"), and runs
    # monitoring different values have a best column each: offer each.
    by_stage = [
        c for c in table.columns if c.partition(":")[2] == name or (name == "best" and c.startswith("best "))
    ]
    if by_stage:
        return "did you mean " + " or ".join(f"'{c}'" for c in by_stage) + "?"
    # A config id by its last key ("lr" for system#optimizer#lr), as a person thinks of it.
    by_key = [c for c in [*table.columns, *table.sortable] if "#" in c and c.rsplit("#", 1)[1] == name]
    if by_key:
        return "did you mean " + " or ".join(f"'{c}'" for c in by_key) + "?"
    bare = {c.partition(":")[2] or c: c for c in table.columns}
    match = closest(name, [*table.columns, *bare, *table.sortable])
    if match:
        return f"did you mean '{bare.get(match[0], match[0])}'?"
    return "columns: " + ", ".join(table.columns)


# --- rendering ----------------------------------------------------------------------------------


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _text(column: str, value: Any) -> str:
    """A cell as a person reads it: rounded numbers, a start time without its fraction and zone."""
    if value is None:
        return ""
    if column == "start" and isinstance(value, str):
        return value.replace("T", " ")[:19]
    if column == "duration" and isinstance(value, int | float):
        return _duration(float(value))
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, str):
        return value
    return json.dumps(value, default=repr)


def _numeric(table: RunTable, column: str) -> bool:
    values = [row[column] for row in table.rows if row[column] is not None]
    return bool(values) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _plain(table: RunTable) -> str:
    cells = [[_text(c, row[c]) for c in table.columns] for row in table.rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(table.columns)]
    right = [_numeric(table, c) and c != "duration" for c in table.columns]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right, strict=True)
        ).rstrip()

    return "\n".join([line(table.columns), *(line(r) for r in cells)]) + "\n"


def _markdown(table: RunTable) -> str:
    def line(values: Sequence[str]) -> str:
        return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"

    rule = ["---:" if _numeric(table, c) and c != "duration" else "---" for c in table.columns]
    rows = [line([_text(c, row[c]) for c in table.columns]) for row in table.rows]
    return "\n".join([line(table.columns), "|" + "|".join(rule) + "|", *rows]) + "\n"


def _csv(table: RunTable) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow(
            [
                "" if row[c] is None else json.dumps(row[c]) if isinstance(row[c], list | dict) else row[c]
                for c in table.columns
            ]
        )
    return out.getvalue()


def render(table: RunTable, fmt: str) -> str:
    """``table`` as text in format ``fmt`` (one of :data:`FORMATS`).

    Raises:
        LighterError: ``fmt`` is not a known format.
    """
    if fmt == "table":
        return _plain(table)
    if fmt == "markdown":
        return _markdown(table)
    if fmt == "csv":
        return _csv(table)
    if fmt == "json":
        return json.dumps([{c: row[c] for c in table.columns} for row in table.rows], indent=2) + "\n"
    raise LighterError(
        f"--format '{fmt}' is not a format of lighter runs",
        location=COMMAND_LINE,
        suggestion=did_you_mean(fmt, FORMATS) or "one of " + ", ".join(FORMATS),
    )


def list_runs(
    root: str | os.PathLike[str] = ".",
    fmt: str = "table",
    sort: str | None = None,
    metrics: Sequence[str] = (),
) -> tuple[str, list[str]]:
    """The listing of every run under ``root`` in format ``fmt``, and one note per record skipped.

    Args:
        root: Folder searched for runs.
        fmt: One of :data:`FORMATS`.
        sort: A column to sort by (``-column``: descending); by start time when ``None``.
        metrics: Result columns to show (names or globs); all when empty.

    Raises:
        LighterError: No run under ``root``, an unknown ``sort`` column, metric or ``fmt``.
    """
    if fmt not in FORMATS:
        render(RunTable([], [], []), fmt)  # raises the error for an unknown format
    runs, notes = find_runs(root)
    if not runs:
        skipped = f"; {len(notes)} unreadable record{'s' if len(notes) != 1 else ''} skipped" if notes else ""
        raise LighterError(
            f"no runs under '{root}'{skipped}",
            location=COMMAND_LINE,
            suggestion=f"a run folder holds {RECORD_FILE}, written by lighter fit and every stage run on it",
            details="\n".join(notes) or None,
        )
    table = tabulate(runs, root)
    if sort:
        table = sort_table(table, sort)
    if metrics:
        table = select_results(table, metrics)  # after sorting: a run may be ordered by a metric not shown
    return render(table, fmt), notes
