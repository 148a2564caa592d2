"""``lighter runs diff RUN_A RUN_B``: what differs between two runs, and where each value came from.

Three sections, each only with what differs: the config (every flat id, both values, each with the
place it was written: ``file:line`` or ``command line``), the run (stages, outcome and its error),
then the best monitored value and the final metrics.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from lighter.inspect.records import Run, open_run
from lighter.inspect.runs import differing_config, metric_columns

__all__ = ["diff_runs", "format_diff"]

_NOT_SET = "(not set)"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.6g}"  # finer than the listing: two values must not look equal when they differ
    if isinstance(value, str):
        return value
    return json.dumps(value, default=repr)


def _config_cell(run: Run, key: str) -> str:
    if key in run.config:
        text = _value(run.config[key])
        source = run.sources.get(key)
        return f"{text}  ({source})" if source else text
    if key in run.params:
        return _value(run.params[key])
    return _NOT_SET


def _differ(n: int) -> str:
    return "1 value differs" if n == 1 else f"{n} values differ"


def _outcome(run: Run) -> str:
    error = run.error
    return f"{run.outcome}: {error}" if error and run.outcome == "failed" else run.outcome


def _metrics(run: Run, columns: dict[tuple[str, str], str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if run.best is not None:
        values[f"best {run.best['monitor']}"] = run.best.get("score")
    for stage, metrics in run.results.items():
        values.update({columns[(stage, name)]: value for name, value in metrics.items()})
    return values


def format_diff(a: Run, b: Run, names: Sequence[str] = ("A", "B")) -> str:
    """The differences between runs ``a`` and ``b`` as aligned text."""
    sections: list[tuple[str, list[tuple[str, str, str]]]] = []
    keys = differing_config([a, b])
    params = [k for k in dict.fromkeys([*a.params, *b.params]) if k not in a.config and k not in b.config]
    params = [k for k in params if a.params.get(k) != b.params.get(k)]
    config_rows = [(key, _config_cell(a, key), _config_cell(b, key)) for key in [*params, *keys]]
    sections.append((f"config ({_differ(len(config_rows))})", config_rows))

    run_rows = [
        (label, left, right)
        for label, left, right in (
            ("stages", ",".join(a.stages), ",".join(b.stages)),
            ("outcome", _outcome(a), _outcome(b)),
        )
        if left != right
    ]
    sections.append(("run", run_rows))

    columns = metric_columns([a, b])
    left, right = _metrics(a, columns), _metrics(b, columns)
    names_in_order = [k for k in dict.fromkeys([*left, *right]) if left.get(k) != right.get(k)]
    metric_rows = [
        (
            name,
            _NOT_SET if left.get(name) is None else _value(left[name]),
            _NOT_SET if right.get(name) is None else _value(right[name]),
        )
        for name in names_in_order
    ]
    sections.append((f"metrics ({_differ(len(metric_rows))})", metric_rows))

    lines = [f"{names[0]}: {a.folder}", f"{names[1]}: {b.folder}"]
    shown = [(title, rows) for title, rows in sections if rows]
    if not shown:
        lines += ["", f"no difference: the same config ({len(a.config)} values), outcome and metrics"]
        return "\n".join(lines) + "\n"
    label_width = max(len(text) for title, rows in shown for text in [title, *(r[0] for r in rows)])
    left_width = max(len(text) for _, rows in shown for text in [names[0], *(r[1] for r in rows)])
    for title, rows in shown:
        lines.append("")
        lines.append(f"{title.ljust(label_width)}  {names[0].ljust(left_width)}  {names[1]}")
        lines += [
            f"{label.ljust(label_width)}  {a_text.ljust(left_width)}  {b_text}"
            for label, a_text, b_text in rows
        ]
    return "\n".join(lines) + "\n"


def diff_runs(run_a: str | os.PathLike[str], run_b: str | os.PathLike[str]) -> str:
    """The differences between the runs in folders ``run_a`` and ``run_b``.

    Raises:
        LighterError: A folder is not a run, or its record cannot be read.
    """
    return format_diff(open_run(run_a), open_run(run_b))
