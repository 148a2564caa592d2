"""``lighter runs plot RUN ...``: one PNG of logged metrics over epochs or steps, one curve per run.

The curves come from the CSV logger's ``RUN/metrics.csv`` (``epoch``, ``step`` and one column per
logged name, a row per logging call). ``*/epoch`` metrics are drawn over epochs, every other one
over steps. Each curve is labelled with what sets its run apart: the config values that differ
between the plotted runs (``lr=0.01``), else the folder. matplotlib is an optional extra, imported
only here and used without pyplot (a Figure on the Agg canvas), so no global backend is changed.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lighter.atomic import atomic_write, os_reason
from lighter.errors import COMMAND_LINE, LighterError, MissingDependencyError, OutputError, closest
from lighter.inspect.records import RECORD_FILE, Run, find_runs, open_run
from lighter.inspect.runs import differing_config

__all__ = [
    "METRICS_FILE",
    "DEFAULT_OUT",
    "TRAIN_LOSS",
    "Plot",
    "Curves",
    "read_curves",
    "curve_labels",
    "plot_runs",
]

METRICS_FILE = "metrics.csv"
"""The CSV logger's file in a run folder."""

DEFAULT_OUT = "runs.png"
TRAIN_LOSS = "train/loss/epoch"
_MAX_LABEL_VALUES = 3  # a legend entry longer than this stops being readable


@dataclass(frozen=True)
class Plot:
    """What :func:`plot_runs` drew: the PNG, the metrics (one panel each) and the runs (one curve each)."""

    path: Path
    metrics: list[str]
    runs: list[Run]

    def __str__(self) -> str:
        count = f"{len(self.runs)} run{'s' if len(self.runs) != 1 else ''}"
        return f"{self.path} ({', '.join(self.metrics)} of {count})"


@dataclass(frozen=True)
class Curves:
    """The logged values of one run: metric name to ``(x, y)`` points, x an epoch or a step."""

    run: Run
    points: dict[str, list[tuple[float, float]]]


def _number(text: str | None) -> float | None:
    if text is None or text == "":
        return None
    try:
        return float(text)
    except ValueError:
        return None


def read_curves(run: Run) -> Curves | None:
    """The metrics ``run`` logged to its ``metrics.csv``; ``None`` when it has none."""
    path = run.folder / METRICS_FILE
    try:
        with path.open(newline="", encoding="utf-8") as file:
            rows = list(csv.DictReader(file))
    except (OSError, csv.Error):
        return None
    points: dict[str, list[tuple[float, float]]] = {}
    for row in rows:
        for name, cell in row.items():
            if name in (None, "epoch", "step"):
                continue
            y = _number(cell)
            x = _number(row.get("epoch") if name.endswith("/epoch") else row.get("step"))
            if y is not None and x is not None:
                points.setdefault(name, []).append((x, y))
    return Curves(run, points)


def _short(key: str) -> str:
    return key.rsplit("#", 1)[-1]


def curve_labels(runs: Sequence[Run]) -> list[str]:
    """A legend label per run: its differing config values (``lr=0.01``), else its folder."""
    keys = differing_config(runs)
    params = [
        p
        for p in dict.fromkeys(p for run in runs for p in run.params)
        if not any(p in r.config for r in runs)
    ]
    keys = [*params, *keys]
    shorts = [_short(k) for k in keys]
    # The last part of an id names it unless two differing ids end alike (model#lr, optimizer#lr).
    names = [s if shorts.count(s) == 1 else k for s, k in zip(shorts, keys, strict=True)]
    labels = []
    for run in runs:
        parts = []
        for key, name in zip(keys, names, strict=True):
            value = run.config.get(key, run.params.get(key))
            parts.append(f"{name}={'-' if value is None else _value(value)}")
        if len(parts) > _MAX_LABEL_VALUES:
            parts = [*parts[:_MAX_LABEL_VALUES], "…"]
        labels.append(", ".join(parts) if parts else run.folder.name)
    # Runs that differ in nothing shown (or only after the cut) still need labels a reader tells apart.
    return [
        label if labels.count(label) == 1 else f"{label} ({run.folder.name})"
        for label, run in zip(labels, runs, strict=True)
    ]


def _value(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _runs(paths: Sequence[str | os.PathLike[str]], say) -> list[Run]:  # noqa: ANN001
    runs: list[Run] = []
    for path in paths:
        folder = Path(path)
        if folder.is_dir() and not (folder / RECORD_FILE).is_file():
            found, notes = find_runs(folder)
            for note in notes:
                say(note)
            if found:
                runs += found
                continue
        runs.append(open_run(path))  # a run, or the error saying why it is not one
    return list({run.folder.resolve(): run for run in runs}.values())


def _metrics(curves: Sequence[Curves], wanted: Sequence[str]) -> list[str]:
    logged = list(dict.fromkeys(name for c in curves for name in c.points))
    if wanted:
        for name in wanted:
            if name not in logged:
                match = closest(name, logged)
                raise LighterError(
                    f"--metric '{name}': no run plotted logged it",
                    location=COMMAND_LINE,
                    suggestion=f"did you mean '{match[0]}'?"
                    if match
                    else "logged: " + ", ".join(sorted(logged)),
                )
        return list(dict.fromkeys(wanted))
    defaults = [*dict.fromkeys(c.run.best["monitor"] for c in curves if c.run.best is not None), TRAIN_LOSS]
    chosen = [name for name in defaults if name in logged]
    if not chosen:
        raise LighterError(
            f"the runs logged neither their monitored value nor {TRAIN_LOSS}",
            location=COMMAND_LINE,
            suggestion="name metrics with --metric NAME; logged: " + ", ".join(sorted(logged)),
        )
    return chosen


def plot_runs(
    paths: Sequence[str | os.PathLike[str]],
    metrics: Sequence[str] = (),
    out: str | os.PathLike[str] = DEFAULT_OUT,
    say=print,  # noqa: ANN001
) -> Plot:
    """Draw ``metrics`` (default: each run's monitored value and the train loss) of the runs at ``paths``.

    Args:
        paths: Run folders, or folders searched for runs.
        metrics: Logged names to draw, one panel each.
        out: The PNG to write.
        say: Where notes go (a run without ``metrics.csv``, a record skipped).

    Returns:
        The PNG written, with the metrics and runs drawn.

    Raises:
        MissingDependencyError: matplotlib is not installed.
        LighterError: A path is not a run, no run has logged metrics, or a metric no run logged.
    """
    try:
        import matplotlib  # noqa: F401 - first, so a blocked or missing package is seen before its parts
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError as error:
        raise MissingDependencyError(
            "lighter runs plot needs matplotlib: pip install matplotlib", location=COMMAND_LINE
        ) from error

    runs = _runs(paths, say)
    curves = []
    for run in runs:
        found = read_curves(run)
        if found is None or not found.points:
            say(
                f"{run.folder}: no {METRICS_FILE} with logged values (runs plot reads the CSVLogger's file); left out"
            )
        else:
            curves.append(found)
    if not curves:
        raise LighterError(
            f"none of the runs has a {METRICS_FILE} to plot",
            location=COMMAND_LINE,
            suggestion="log with pytorch_lightning.loggers.CSVLogger, which writes RUN/metrics.csv",
        )
    names = _metrics(curves, metrics)
    labels = dict(zip((c.run.folder for c in curves), curve_labels([c.run for c in curves]), strict=True))

    figure = Figure(figsize=(5.0 * len(names), 3.6), layout="constrained")
    FigureCanvasAgg(figure)
    for axes, name in zip(figure.subplots(1, len(names), squeeze=False)[0], names, strict=True):
        for c in curves:
            points = sorted(c.points.get(name, []))
            if points:
                xs, ys = zip(*points, strict=True)
                axes.plot(xs, ys, marker="." if len(points) < 30 else None, label=labels[c.run.folder])
        axes.set_title(name)
        axes.set_xlabel("epoch" if name.endswith("/epoch") else "step")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs and steps are whole numbers
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    out = Path(out)
    try:
        atomic_write(out, buffer.getvalue())
    except OSError as error:
        raise OutputError(
            f"cannot write {out}: {os_reason(error)}", path=str(out), location=COMMAND_LINE
        ) from error
    return Plot(out, names, [c.run for c in curves])
