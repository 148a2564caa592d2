"""A two-process DDP fit on CPU from the command line: every rank builds the same config."""

from __future__ import annotations

import json
import re

import pytest


@pytest.mark.slow
def test_ddp_fit_on_two_cpu_processes(experiment, lighter):
    result = lighter(
        "fit",
        "experiment.yaml",
        "--trainer#strategy=ddp",
        "--trainer#devices=2",
        "--trainer#max_epochs=1",
        "--trainer#default_root_dir=runs/ddp",
        cwd=experiment,
        script=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # rank 1 re-ran the same command line; only rank 0 printed (children share our stdout)
    seeds = re.findall(r"^Seed: (\d+)$", result.stdout, re.MULTILINE)
    assert len(seeds) == 1
    ranks = [json.loads((experiment / "seeds" / f"fit-rank{rank}.json").read_text()) for rank in (0, 1)]
    assert ranks[0]["seed"] == ranks[1]["seed"] == int(seeds[0])  # the drawn seed reached the child
    assert ranks[0]["weight"] == ranks[1]["weight"]  # so both built the same model
    logs = experiment / "runs" / "ddp" / "lightning_logs"
    assert [p.name for p in logs.iterdir()] == ["version_0"]
    assert "seed: " + seeds[0] in (logs / "version_0" / "config.yaml").read_text()
    (checkpoint,) = (logs / "version_0" / "checkpoints").glob("*.ckpt")
    assert checkpoint.name == "epoch=0-step=4.ckpt"  # 64 samples / 2 ranks / batch 8


@pytest.mark.slow
def test_ddp_children_read_the_original_command_line(fresh_experiment, lighter):
    # Override first, then --config (the original Lighter's Fire form): the child re-runs this line.
    (fresh_experiment / "second.yaml").write_text("trainer:\n  max_epochs: 1\n")
    result = lighter(
        "fit",
        "--trainer#strategy=ddp",
        "--config=experiment.yaml,second.yaml",
        "--trainer#devices",
        "2",
        cwd=fresh_experiment,
        script=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [json.loads((fresh_experiment / "seeds" / f"fit-rank{rank}.json").read_text()) for rank in (0, 1)]
    assert ranks[0] == ranks[1]  # the same seed and the same model in both processes
    (checkpoint,) = (fresh_experiment / "runs" / "lightning_logs" / "version_0" / "checkpoints").glob(
        "*.ckpt"
    )
    assert checkpoint.name == "epoch=0-step=4.ckpt"  # second.yaml's one epoch, on 2 ranks
