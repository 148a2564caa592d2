"""The pictures of a sweep: ``history.png`` (each trial's value, the best so far) and ``importance.png``.

Drawn with matplotlib's Agg canvas directly (no ``pyplot``: no global backend, no window, safe in
any process), when the sweep ends, also when it is stopped. A picture that cannot be drawn is
reported in one line and never fails the sweep: the results table is what matters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lighter.atomic import atomic_open
from lighter.engine.sweep_report import TrialRow

__all__ = ["HISTORY", "IMPORTANCE", "MIN_TRIALS_FOR_IMPORTANCE", "draw_history", "draw_importance"]

HISTORY = "history.png"
IMPORTANCE = "importance.png"
MIN_TRIALS_FOR_IMPORTANCE = 4
"""Finished trials needed before parameter importances mean anything (with at least two params)."""


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Any, path: Path) -> None:
    figure.tight_layout()
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png")


def draw_history(rows: Sequence[TrialRow], monitor: str, direction: str, path: Path) -> bool:
    """Draw each trial's value by trial number and the best so far (an empty plot before any value)."""
    complete = sorted(
        (r for r in rows if r.state == "COMPLETE" and r.metric is not None), key=lambda r: r.number
    )
    pruned = [r for r in rows if r.state == "PRUNED" and r.metric is not None]
    figure = _figure(6.4, 3.6)
    axes = figure.add_subplot()
    axes.scatter([r.number for r in complete], [r.metric for r in complete], label="trial", color="tab:blue")
    if pruned:
        axes.scatter(
            [r.number for r in pruned],
            [r.metric for r in pruned],
            label="pruned (last value)",
            color="tab:gray",
            marker="x",
        )
    if complete:
        pick = max if direction == "maximize" else min
        best, numbers, bests = None, [], []
        for row in complete:
            best = row.metric if best is None else pick(best, row.metric)
            numbers.append(row.number)
            bests.append(best)
        axes.step(numbers, bests, where="post", color="tab:orange", label="best so far")
    axes.set_xlabel("trial")
    axes.set_ylabel(monitor)
    axes.set_title(f"{len(complete)} complete trials ({direction})")
    axes.grid(alpha=0.3)
    if complete or pruned:
        axes.legend(loc="best", fontsize="small")
    _save(figure, path)
    return True


def draw_importance(study: Any, names: Sequence[str], path: Path, say: Callable[[str], None]) -> bool:
    """Draw Optuna's parameter importances (fANOVA) as bars; say why not in one line when it fails."""
    import optuna

    finished = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    if len(names) < 2 or len(finished) < MIN_TRIALS_FOR_IMPORTANCE:
        return False
    try:
        importances = optuna.importance.get_param_importances(study)
    except Exception as error:  # noqa: BLE001 - a picture is a bonus; the sweep's results stand without it
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        say(f"No {IMPORTANCE}: parameter importances could not be computed ({reason})")
        return False
    if not importances:
        return False
    order = sorted(importances, key=importances.get)
    figure = _figure(6.4, 0.5 * len(order) + 1.4)
    axes = figure.add_subplot()
    axes.barh(order, [importances[name] for name in order], color="tab:blue")
    axes.set_xlabel("importance (fANOVA, sums to 1)")
    axes.set_title(f"Parameter importance over {len(finished)} complete trials")
    axes.grid(alpha=0.3, axis="x")
    _save(figure, path)
    return True
