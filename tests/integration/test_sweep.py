"""``lighter sweep`` end to end: real Optuna studies of tiny CPU fits, each trial a real ``lighter fit``."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

SWEEP = """\
sweep:
  monitor: val/loss/epoch
  direction: minimize
  trials: {trials}
  seed: 0
  folder: {folder}
  params:
    lr: {{id: system#optimizer#lr, log_uniform: [1.0e-3, 1.0]}}
    width: {{id: system#model#out_features, choice: [2, 3]}}
"""
QUICK = ["--trainer#max_epochs=1", "--trainer#enable_checkpointing=false"]


def write_sweep(experiment, name, trials, folder, extra=""):
    path = experiment / f"{name}.yaml"
    path.write_text(SWEEP.format(trials=trials, folder=folder) + extra)
    return f"experiment.yaml,{name}.yaml"


def results(folder):
    with open(folder / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def study_trials(folder):
    """(number, state) of every trial the study's database holds."""
    with sqlite3.connect(folder / "study.db") as db:
        return db.execute("SELECT number, state FROM trials ORDER BY number").fetchall()


def trial_record(folder, number):
    return json.loads((folder / f"trial-{number}" / "trial.json").read_text())


def test_a_sweep_reports_the_best_and_continues_up_to_a_new_target(experiment, lighter):
    config = write_sweep(experiment, "sweep3", 3, "sweeps/three")
    first = lighter("sweep", config, *QUICK, cwd=experiment, script=True)
    assert first.returncode == 0, first.stderr[-3000:]
    assert len(re.findall(r"^Trial \d+ \(\d/3\): lr=", first.stdout, re.MULTILINE)) == 3
    folder = experiment / "sweeps" / "three"
    rows = results(folder)
    assert [r["state"] for r in rows] == ["COMPLETE"] * 3
    losses = [float(r["val/loss/epoch"]) for r in rows]
    assert losses == sorted(losses)  # best first
    best = rows[0]
    best_folder = folder / f"trial-{best['trial']}"
    assert (
        f"Best: trial {best['trial']} (val/loss/epoch = {float(best['val/loss/epoch']):.4g}), run folder {best_folder}"
        in first.stdout
    )
    # The trial folder is the trial's run folder, whose saved config records the sampled values.
    config_yaml = yaml.safe_load((best_folder / "config.yaml").read_text())
    assert config_yaml["system"]["optimizer"]["lr"] == float(best["lr"])
    assert config_yaml["system"]["model"]["out_features"] == int(best["width"])
    assert config_yaml["sweep"] is None
    assert list(best_folder.glob("events.out.tfevents.*"))  # the logger writes into it too
    assert trial_record(folder, best["trial"]) == {
        "study": "experiment",
        "number": int(best["trial"]),
        "params": {"lr": float(best["lr"]), "width": int(best["width"])},
        "state": "COMPLETE",
        "value": float(best["val/loss/epoch"]),
    }
    # Reproducing the best run makes a fresh run with its values, not one over the trial's folder.
    reproduce = next(line for line in first.stdout.splitlines() if line.startswith("Reproduce: "))
    assert "default_root_dir" not in reproduce and f"--system#optimizer#lr={float(best['lr'])!r}" in reproduce
    assert (folder / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (folder / "importance.png").exists()  # three trials are too few to rank two params
    first_values = [(r["lr"], r["width"]) for r in sorted(rows, key=lambda r: int(r["trial"]))]

    # Continued in a new process, a seeded study draws new values, not its first trials' again.
    again = lighter("sweep", config, *QUICK, "--sweep#trials=5", cwd=experiment, script=True)
    assert again.returncode == 0, again.stderr[-3000:]
    assert re.findall(r"^Trial (\d+) \((\d)/5\)", again.stdout, re.MULTILINE) == [("3", "4"), ("4", "5")]
    rows = results(folder)
    assert sorted(int(r["trial"]) for r in rows) == list(range(5))
    assert (folder / "importance.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # five now
    later = [(r["lr"], r["width"]) for r in rows if int(r["trial"]) >= 3]
    assert not set(later) & set(first_values)

    # The same seeded command on a new study repeats the first study's values exactly.
    replay = lighter(
        "sweep", config, *QUICK, "--sweep#trials=1", "--sweep#folder=sweeps/replay", cwd=experiment
    )
    assert replay.returncode == 0, replay.stderr[-3000:]
    replayed = [
        (r["lr"], r["width"])
        for r in sorted(results(experiment / "sweeps" / "replay"), key=lambda r: int(r["trial"]))
    ]
    assert replayed == first_values[:1]


def start_sweep(experiment, config, *overrides):
    env = {k: v for k, v in os.environ.items() if k not in ("LIGHTER_DEBUG", "LIGHTER_SEED")}
    env["PYTHONWARNINGS"] = "ignore"
    command = [sys.executable, "-m", "lighter", "sweep", config, *overrides]
    return subprocess.Popen(
        command, cwd=experiment, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for(path, process, timeout=300):
    """Wait until ``path`` exists (the trial is in its fit) while ``process`` still runs."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.2)


def test_stopped_and_killed_trials_are_failed_and_run_again(fresh_experiment, lighter):
    experiment = fresh_experiment
    config = write_sweep(experiment, "kill", 2, "sweeps/kill")
    folder = experiment / "sweeps" / "kill"
    endless = "--trainer#max_epochs=100000"  # a trial that runs until it is stopped

    # SIGTERM (a scheduler's stop): the running trial is stopped, the results and pictures saved.
    sweep = start_sweep(experiment, config, endless)
    wait_for(folder / "trial-0" / "config.yaml", sweep)
    sweep.send_signal(signal.SIGTERM)
    out, err = sweep.communicate(timeout=300)
    assert sweep.returncode == 143, err[-3000:]
    assert err.splitlines()[0] == (
        "sweep 'experiment' stopped by SIGTERM during trial 0 (marked failed; it runs again); "
        "run the same command to continue"
    )
    assert [(r["trial"], r["state"], r["error"]) for r in results(folder)] == [
        ("0", "FAIL", "lost: stopped by SIGTERM")
    ]
    assert (folder / "history.png").is_file()
    assert trial_record(folder, 0)["state"] == "FAIL"

    # SIGKILL of the sweep: nothing can mark the trial, so the next sweep finds its process gone.
    sweep = start_sweep(experiment, config, endless)
    wait_for(folder / "trial-1" / "config.yaml", sweep)
    assert trial_record(folder, 1)["state"] == "RUNNING"
    sweep.kill()
    sweep.communicate(timeout=60)

    done = lighter("sweep", config, "--trainer#max_epochs=1", cwd=experiment)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Marked as failed (their process died): trial 1" in done.stdout
    rows = {r["trial"]: r for r in results(folder)}
    assert {n: r["state"] for n, r in rows.items()} == {
        "0": "FAIL",
        "1": "FAIL",
        "2": "COMPLETE",
        "3": "COMPLETE",
    }
    assert rows["1"]["error"].startswith("lost: its sweep process (")
    assert trial_record(folder, 1)["state"] == "FAIL"
    assert (folder / "trial-1" / "config.yaml").is_file()  # the killed trial's folder is kept
    best = re.search(r"^Best: trial (\d+) .*, run folder (.*)$", done.stdout, re.MULTILINE)
    assert best and best[1] in ("2", "3") and best[2] == str(folder / f"trial-{best[1]}")

    # The best trial's folder is a run folder: `lighter fit FOLDER` continues its training.
    more = lighter("fit", best[2], "--trainer#max_epochs=2", cwd=experiment)
    assert more.returncode == 0, more.stderr[-3000:]
    assert f"Resuming {best[2]} from epoch=0-step=8.ckpt" in more.stdout
    assert (Path(best[2]) / "checkpoints" / "epoch=1-step=16.ckpt").is_file()


def trial_pid(trial_folder):
    """The pid of the ``lighter fit`` that runs in ``trial_folder`` (found by its command line)."""
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"fit" in argv and any(str(trial_folder).encode() in a for a in argv):
            return int(proc.name)
    raise AssertionError(f"no process runs {trial_folder}")


@pytest.mark.skipif(sys.platform != "linux", reason="finds the trial's process in /proc")
def test_a_trial_whose_own_process_is_killed_runs_again(fresh_experiment):
    experiment = fresh_experiment
    # The first trial runs until it is killed; the next one is short.
    extra = "  start_with: [{lr: 0.1, width: 2, epochs: 100000}, {lr: 0.1, width: 2, epochs: 1}]\n"
    config = write_sweep(experiment, "childkill", 1, "sweeps/childkill", extra)
    (experiment / "childkill.yaml").write_text(
        (experiment / "childkill.yaml")
        .read_text()
        .replace("  params:\n", "  params:\n    epochs: {id: trainer#max_epochs, choice: [1, 100000]}\n")
    )
    folder = experiment / "sweeps" / "childkill"
    sweep = start_sweep(experiment, config, "--trainer#enable_checkpointing=false")
    wait_for(folder / "trial-0" / "config.yaml", sweep)
    os.kill(trial_pid(folder / "trial-0"), signal.SIGKILL)
    out, err = sweep.communicate(timeout=600)
    assert sweep.returncode == 0, err[-3000:]
    rows = {r["trial"]: r for r in results(folder)}
    assert {n: (r["state"], r["error"]) for n, r in rows.items()} == {
        "0": ("FAIL", "lost: its process was killed by SIGKILL"),
        "1": ("COMPLETE", ""),
    }
    assert "Best: trial 1 " in out
    assert trial_record(folder, 0)["state"] == "FAIL"


GRID = """\
sweep:
  monitor: val/loss/epoch
  direction: minimize
  sampler: grid
  folder: sweeps/grid
  params:
    width: {id: system#model#out_features, choice: [2, 3]}
"""


def test_a_grid_runs_each_combination_once(experiment, lighter):
    (experiment / "grid.yaml").write_text(GRID)
    first = lighter("sweep", "experiment.yaml,grid.yaml", *QUICK, cwd=experiment)
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stdout.splitlines()[0].startswith("Sweep 'experiment': 2 trials in ")  # the grid's size
    folder = experiment / "sweeps" / "grid"
    assert sorted(r["width"] for r in results(folder)) == ["2", "3"]
    assert "The grid is complete: all 2 combinations have run" in first.stdout
    again = lighter("sweep", "experiment.yaml,grid.yaml", *QUICK, cwd=experiment)
    assert again.returncode == 0, again.stderr[-3000:]
    assert not re.search(r"^Trial ", again.stdout, re.MULTILINE)
    assert "The grid is complete: all 2 combinations have run" in again.stdout
    assert len(results(folder)) == 2


def test_two_processes_share_one_study_without_running_a_trial_twice(experiment):
    config = write_sweep(experiment, "shared", 6, "sweeps/shared")
    env = {k: v for k, v in os.environ.items() if k not in ("LIGHTER_DEBUG", "LIGHTER_SEED")}
    command = [sys.executable, "-m", "lighter", "sweep", config, *QUICK]
    processes = [
        subprocess.Popen(
            command, cwd=experiment, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=900) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], [err[-2000:] for _, err in outputs]
    ran = [int(n) for out, _ in outputs for n in re.findall(r"^Trial (\d+) ", out, re.MULTILINE)]
    assert all(ran.count(n) == 1 for n in ran) and len(ran) == 6  # each trial run by one process, once
    assert all(re.search(r"^Trial \d+ ", out, re.MULTILINE) for out, _ in outputs)  # both took part
    folder = experiment / "sweeps" / "shared"
    rows = results(folder)
    assert sorted(int(r["trial"]) for r in rows) == sorted(ran)
    assert {r["state"] for r in rows} == {"COMPLETE"}
    assert sorted(int(p.name.split("-")[1]) for p in folder.glob("trial-*")) == sorted(ran)
    # Any trial the database numbered past the target was dropped before it ran.
    assert len([n for n, state in study_trials(folder) if state == "COMPLETE"]) == 6


def test_a_pruned_and_a_crashing_trial_are_recorded_as_such(experiment, lighter):
    extra = (
        "  pruner: {type: median, startup_trials: 1, warmup_steps: 0}\n"
        # lr 5 diverges (pruned after its first validation); lr -1 makes SGD raise (a failed trial)
        "  start_with: [{lr: 0.1, width: 2}, {lr: 5.0, width: 2}, {lr: -1.0, width: 2}]\n"
    )
    config = write_sweep(experiment, "prune", 3, "sweeps/prune", extra)
    (experiment / "prune.yaml").write_text(
        (experiment / "prune.yaml").read_text().replace("log_uniform: [1.0e-3, 1.0]", "uniform: [-1.0, 5.0]")
    )
    result = lighter(
        "sweep",
        config,
        "--trainer#max_epochs=3",
        "--trainer#enable_checkpointing=false",
        cwd=experiment,
        script=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {r["trial"]: r for r in results(experiment / "sweeps" / "prune")}
    assert [rows[n]["state"] for n in ("0", "1", "2")] == ["COMPLETE", "PRUNED", "FAIL"]
    assert rows["2"]["error"] == (
        "experiment.yaml:22 @ system#optimizer: torch.optim.SGD raised ValueError: Invalid learning rate: -1.0"
    )
    assert "Trial 2 (3/3): lr=-1, width=2 -> no value (FAIL: " in result.stdout
    assert "Best: trial 0 " in result.stdout


def test_a_monitor_the_runs_never_log_stops_the_sweep_after_the_first_trial(experiment, lighter):
    config = write_sweep(experiment, "nomonitor", 3, "sweeps/nomonitor")
    result = lighter("sweep", config, *QUICK, "--sweep#monitor=val/acc/epoch", cwd=experiment, script=True)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "command line @ sweep#monitor: trial 0 never logged 'val/acc/epoch' (it logged: train/loss/epoch, "
        "train/loss/step, train/optimizer/SGD/lr, train/optimizer/SGD/momentum, val/loss/epoch) "
        "(did you mean 'val/loss/epoch'?)"
    )
    assert [n for n, _ in study_trials(experiment / "sweeps" / "nomonitor")] == [0]


def test_trials_may_run_ddp_and_be_pruned_on_every_rank(experiment, lighter):
    # Each trial is a 2-process DDP fit started by Lightning's launcher inside the trial's own command;
    # the pruned one must stop on both ranks (else the sweep would hang).
    extra = (
        "  pruner: {type: median, startup_trials: 1, warmup_steps: 0}\n"
        "  start_with: [{lr: 0.1, width: 2}, {lr: 1.0e+2, width: 2}]\n"
    )
    config = write_sweep(experiment, "ddp", 2, "sweeps/ddp", extra)
    (experiment / "ddp.yaml").write_text(
        (experiment / "ddp.yaml")
        .read_text()
        .replace("log_uniform: [1.0e-3, 1.0]", "log_uniform: [1.0e-3, 1.0e+2]")
    )
    result = lighter(
        "sweep",
        config,
        "--trainer#max_epochs=3",
        "--trainer#enable_checkpointing=false",
        "--trainer#strategy=ddp",
        "--trainer#devices=2",
        cwd=experiment,
        script=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {r["trial"]: r for r in results(experiment / "sweeps" / "ddp")}
    assert [rows[n]["state"] for n in ("0", "1")] == ["COMPLETE", "PRUNED"]
    log = (experiment / "sweeps" / "ddp" / "trial-0" / "output.log").read_text()
    assert "All distributed processes registered. Starting with 2 processes" in log
