"""Read what runs left behind, without building or importing anything heavy.

``lighter runs`` (list), ``lighter runs diff`` and ``lighter runs plot`` read run records
(``RUN/run.json``) and the CSV logger's ``metrics.csv`` only: no torch, no Lightning.
"""

from __future__ import annotations

from lighter.inspect.diff import diff_runs
from lighter.inspect.records import RecordError, Run, find_runs, open_run
from lighter.inspect.runs import list_runs

__all__ = ["Run", "RecordError", "find_runs", "open_run", "list_runs", "diff_runs", "plot_runs"]


def plot_runs(*args, **kwargs):  # noqa: ANN002, ANN003, ANN201 - the signature is plot.plot_runs'
    """See :func:`lighter.inspect.plot.plot_runs` (imported on use: it is the one part needing matplotlib)."""
    from lighter.inspect.plot import plot_runs as plot

    return plot(*args, **kwargs)
