"""``lighter runs plot RUN ...``: a PNG of logged metrics from each run's metrics.csv."""

from __future__ import annotations

import subprocess
import sys

import pytest
from tests.inspect.records import entry, write_run

from lighter.errors import LighterError, MissingDependencyError
from lighter.inspect.plot import curve_labels, plot_runs, read_curves
from lighter.inspect.records import open_run

LR = "system#optimizer#lr"
CURVES = {
    "train/loss/epoch": [1.0, 0.8, 0.6],
    "val/loss/epoch": [0.9, 0.7, 0.5],
    "train/loss/step": [1.2, 1.1, 1.0, 0.9, 0.8],
}


@pytest.fixture
def runs(tmp_path):
    write_run(tmp_path / "runs" / "a", **{LR: 0.1}, curves=CURVES)
    write_run(
        tmp_path / "runs" / "b", **{LR: 0.01}, curves={k: [v * 0.9 for v in vs] for k, vs in CURVES.items()}
    )
    return tmp_path


def test_plot_draws_the_monitored_value_and_the_train_loss_by_default(runs, lighter):
    result = lighter("runs", "plot", "runs/a", "runs/b", cwd=runs)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Plot: runs.png (val/loss/epoch, train/loss/epoch of 2 runs)\n"
    png = (runs / "runs.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")

    import matplotlib.image

    pixels = matplotlib.image.imread(str(runs / "runs.png"))
    assert pixels.shape[1] > 2 * pixels.shape[0]  # two panels side by side
    assert pixels.std() > 0.05  # curves, axes and text were drawn, not an empty canvas


def test_named_metrics_and_out_file(runs, lighter):
    result = lighter("runs", "plot", "runs", "--metric", "train/loss/step", "--out", "steps.png", cwd=runs)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Plot: steps.png (train/loss/step of 2 runs)\n"
    assert (runs / "steps.png").is_file() and not (runs / "runs.png").exists()


def test_epoch_metrics_are_over_epochs_and_step_metrics_over_steps(runs):
    points = read_curves(open_run(runs / "runs" / "a")).points
    assert points["val/loss/epoch"] == [(0.0, 0.9), (1.0, 0.7), (2.0, 0.5)]
    assert points["train/loss/step"] == [(0.0, 1.2), (1.0, 1.1), (2.0, 1.0), (3.0, 0.9), (4.0, 0.8)]


def test_each_curve_is_labelled_with_what_sets_its_run_apart(tmp_path):
    write_run(tmp_path / "a", **{LR: 0.1})
    write_run(tmp_path / "b", **{LR: 0.01, "system#model#lr": 3})
    write_run(tmp_path / "c", **{LR: 0.01})
    write_run(tmp_path / "d", **{LR: 0.01})
    labels = curve_labels([open_run(tmp_path / name) for name in "abcd"])
    # Two differing ids end in "lr": both are named in full; c and d differ in nothing, so their folders tell them apart.
    assert labels == [
        "system#optimizer#lr=0.1, system#model#lr=-",
        "system#optimizer#lr=0.01, system#model#lr=3",
        "system#optimizer#lr=0.01, system#model#lr=- (c)",
        "system#optimizer#lr=0.01, system#model#lr=- (d)",
    ]
    assert curve_labels([open_run(tmp_path / "a"), open_run(tmp_path / "c")]) == ["lr=0.1", "lr=0.01"]
    assert curve_labels([open_run(tmp_path / "c"), open_run(tmp_path / "d")]) == ["c", "d"]


def test_a_metric_no_run_logged_names_the_closest(runs, lighter):
    result = lighter("runs", "plot", "runs/a", "--metric", "val/loss", cwd=runs)
    assert result.returncode == 1
    assert (
        result.stderr.splitlines()[0]
        == "command line: --metric 'val/loss': no run plotted logged it (did you mean 'val/loss/epoch'?)"
    )
    with pytest.raises(LighterError, match=r"logged: train/loss/epoch, train/loss/step, val/loss/epoch\)$"):
        plot_runs([runs / "runs" / "a"], ["accuracy"], out=runs / "x.png")


def test_a_run_without_metrics_csv_is_left_out_with_a_note(runs, tmp_path):
    write_run(tmp_path / "runs" / "c", entries=[entry(outcome="running", best=None)])
    notes = []
    plot = plot_runs([tmp_path / "runs"], out=tmp_path / "p.png", say=notes.append)
    assert [r.folder.name for r in plot.runs] == ["a", "b"]
    assert notes == [
        f"{tmp_path}/runs/c: no metrics.csv with logged values (runs plot reads the CSVLogger's file); left out"
    ]
    with pytest.raises(LighterError, match="none of the runs has a metrics.csv to plot"):
        plot_runs([tmp_path / "runs" / "c"], out=tmp_path / "q.png", say=notes.append)


def test_not_a_run(runs, lighter):
    result = lighter("runs", "plot", "runs/aa", cwd=runs)
    assert result.returncode == 1
    assert (
        result.stderr.splitlines()[0]
        == "command line: 'runs/aa' is not a run folder: it does not exist (did you mean 'runs/a'?)"
    )


def test_without_matplotlib_the_message_says_how_to_install_it(runs):
    code = (
        "import sys\n"
        "sys.modules['matplotlib'] = None\n"  # what an environment without matplotlib looks like to import
        "from lighter.cli import main\n"
        "sys.argv = ['lighter', 'runs', 'plot', 'runs/a']\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=runs, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 1
    assert (
        result.stderr.splitlines()[0]
        == "command line: lighter runs plot needs matplotlib: pip install matplotlib"
    )
    assert "Traceback" not in result.stderr
    assert not (runs / "runs.png").exists()


def test_the_error_type_for_a_missing_matplotlib(monkeypatch, runs):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingDependencyError):
        plot_runs([runs / "runs" / "a"], out=runs / "x.png")
