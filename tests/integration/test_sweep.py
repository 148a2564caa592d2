"""``lighter sweep`` end to end: real Optuna studies of tiny CPU fits, each trial a real ``lighter fit``."""

from __future__ import annotations

import csv
import os
import re
import sqlite3
import subprocess
import sys

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


def test_a_sweep_reports_the_best_and_continues_up_to_a_new_target(experiment, lighter):
    config = write_sweep(experiment, "sweep4", 4, "sweeps/four")
    first = lighter("sweep", config, *QUICK, cwd=experiment, script=True)
    assert first.returncode == 0, first.stderr[-3000:]
    assert len(re.findall(r"^Trial \d+ \(\d/4\): lr=", first.stdout, re.MULTILINE)) == 4
    folder = experiment / "sweeps" / "four"
    rows = results(folder)
    assert [r["state"] for r in rows] == ["complete"] * 4
    losses = [float(r["val/loss/epoch"]) for r in rows]
    assert losses == sorted(losses)  # best first
    best = rows[0]
    assert f"Best: trial {best['trial']} (val/loss/epoch = " in first.stdout
    assert f"Reproduce: {best['command']}" in first.stdout.splitlines()
    # The trial is a plain fit in its own folder, whose saved config records the sampled values.
    (saved,) = (folder / f"trial-{best['trial']}").glob("lightning_logs/version_0/config.yaml")
    config_yaml = yaml.safe_load(saved.read_text())
    assert config_yaml["system"]["optimizer"]["lr"] == float(best["lr"])
    assert config_yaml["system"]["model"]["out_features"] == int(best["width"])
    assert config_yaml["sweep"] is None

    again = lighter("sweep", config, *QUICK, "--sweep#trials=6", cwd=experiment, script=True)
    assert again.returncode == 0, again.stderr[-3000:]
    assert re.findall(r"^Trial (\d+) \((\d)/6\)", again.stdout, re.MULTILINE) == [("4", "5"), ("5", "6")]
    assert sorted(int(r["trial"]) for r in results(folder)) == list(range(6))


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
    assert {r["state"] for r in rows} == {"complete"}
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
    assert [rows[n]["state"] for n in ("0", "1", "2")] == ["complete", "pruned", "failed"]
    assert rows["2"]["error"] == (
        "experiment.yaml:22 @ system#optimizer: torch.optim.SGD raised ValueError: Invalid learning rate: -1.0"
    )
    assert "Trial 2 (3/3): lr=-1, width=2 -> no value (failed: " in result.stdout
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
    assert [rows[n]["state"] for n in ("0", "1")] == ["complete", "pruned"]
    log = (experiment / "sweeps" / "ddp" / "trial-0" / "output.log").read_text()
    assert "All distributed processes registered. Starting with 2 processes" in log
