"""Time ``lighter runs`` on hundreds of run folders, against ``lighter --help`` measured in the same run.

Run ``python benchmarks/runs_listing.py`` (``--runs N``, ``--repeats N``; ``--check`` exits with
status 1 when the target is missed). It writes N run folders (default 500) as ``lighter fit`` and
``lighter test`` leave them: a ``run.json`` per RECORD_SCHEMA with a 60-value flat config, a fit
and a test entry and their metrics, plus a ``checkpoints/`` folder, then times the real
``lighter runs ROOT`` (the table, and ``--format json --sort``) and ``lighter runs diff``. The
baseline is ``lighter --help``, measured in the same rounds. Any command that runs (not just
prints help) also pays typer's parameter coercion, which imports pydantic (~0.1-0.3 s here, the
same for ``lighter show``), so the figure that says what reading 500 records adds is the listing
against ``lighter runs diff`` of two runs, which reads two. Target (issue 19, item 5: "instant on
hundreds of runs"): listing 500 runs under 2x that two-run command, i.e. reading 500 records costs
less than starting the command.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["main"]

TARGET = 2.0
LIGHTER = str(Path(sys.executable).with_name("lighter"))


def _entry(stage: str, number: int, metrics: dict[str, float]) -> dict:
    return {
        "stage": stage,
        "output": None if stage == "fit" else stage,
        "command": ["lighter", stage, "experiment.yaml", f"--vars#lr={number}"],
        "configs": ["/home/me/experiment.yaml"],
        "overrides": [f"--vars#lr={number}"],
        "checkpoint": None if stage == "fit" else "checkpoints/best.ckpt",
        "started": f"2026-12-08T{number // 60 % 24:02d}:{number % 60:02d}:00.000+00:00",
        "ended": None,
        "duration_s": 30.0 + number % 7,
        "outcome": "completed",
        "error": None,
        "signal": None,
        "git": {"commit": "0" * 40, "dirty": False},
        "versions": {"lighter": "0.1.0", "torch": "2.13.0", "pytorch_lightning": "2.6.0", "python": "3.12.0"},
        "host": "box",
        "world_size": 1,
        "seed": number,
        "best": {
            "path": "checkpoints/best.ckpt",
            "monitor": "val/loss/epoch",
            "score": 1 / (number + 1),
            "mode": "min",
        }
        if stage == "fit"
        else None,
        "metrics": metrics,
    }


def write_runs(root: Path, count: int) -> None:
    """``count`` run folders under ``root/logs``, each with a record that differs in lr and seed."""
    for number in range(count):
        folder = root / "logs" / f"version_{number}"
        (folder / "checkpoints").mkdir(parents=True)
        config = {f"system#model#layers#{i}#features": 64 for i in range(55)}
        config.update({"vars#lr": 10 ** -(1 + number % 4), "seed": number, "trainer#max_epochs": 10})
        config.update({"trainer#_target_": "pytorch_lightning.Trainer", "system#_target_": "lighter.System"})
        fit = {"train/loss/epoch": 0.5, "val/loss/epoch": 1 / (number + 1), "val/metrics/accuracy/epoch": 0.9}
        record = {
            "lighter_record": 1,
            "run_folder": str(folder),
            "config": config,
            "sources": {key: f"experiment.yaml:{i + 1}" for i, key in enumerate(config)},
            "entries": [
                _entry("fit", number, fit),
                _entry("test", number, {"test/metrics/accuracy/epoch": 0.88}),
            ],
        }
        (folder / "run.json").write_text(json.dumps(record, indent=2))
        (folder / "config.yaml").write_text("".join(f"# {k}: {v}\n" for k, v in config.items()))


def _time(command: list[str], cwd: Path) -> float:
    env = {k: v for k, v in os.environ.items() if k != "LIGHTER_DEBUG"}
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr}")
    return seconds


def _best(commands: dict[str, list[str]], cwd: Path, repeats: int) -> dict[str, float]:
    """The best time of each command, run in rounds so a busy moment of the machine hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            times[name].append(_time(command, cwd))
    return {name: min(values) for name, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--runs", type=int, default=500, help="run folders to list")
    options.add_argument("--repeats", type=int, default=7, help="runs per case (the best counts)")
    options.add_argument("--check", action="store_true", help="exit with status 1 if the target is missed")
    args = options.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_runs(root, args.runs)
        cases = {
            "baseline": [LIGHTER, "--help"],
            f"lighter runs ({args.runs} runs, table)": [LIGHTER, "runs"],
            f"lighter runs ({args.runs} runs, json, sorted)": [
                LIGHTER,
                "runs",
                "--format",
                "json",
                "--sort",
                "-best",
            ],
            "lighter runs diff (two runs)": [LIGHTER, "runs", "diff", "logs/version_0", "logs/version_1"],
        }
        timings = _best(cases, root, args.repeats)
    baseline = timings.pop("baseline")
    print(f"seconds, best of {args.repeats}; baseline `lighter --help`: {baseline:.3f} s")
    print(f"{'case':<42} {'seconds':>8} {'vs --help':>10}")
    for name, seconds in timings.items():
        print(f"{name:<42} {seconds:8.3f} {seconds / baseline:9.2f}x")
    names = list(timings)
    listing = timings[names[0]] / timings[names[-1]]
    met = listing < TARGET
    print(
        f"listing {args.runs} runs: {listing:.2f}x `lighter runs diff` of two (target < {TARGET}x): {'met' if met else 'MISSED'}"
    )
    return 0 if met or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
