"""The same experiment started by external launchers, on CPU (gloo), through the real ``lighter``
command: torchrun (one node × 2 processes; 2 "nodes" × 1 process on localhost) and SLURM's srun
(simulated: two tasks with the variables srun sets). In each: one seed on every rank, printed once,
``config.yaml`` and the checkpoint written once."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

BIN = Path(sys.executable).parent
DDP = ["--trainer#strategy=ddp", "--trainer#max_epochs=1"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LIGHTER_DEBUG", "PL_GLOBAL_SEED")}
    env.update(PYTHONWARNINGS="ignore", **extra)
    return env


def start(command: list[str], cwd: Path, **extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        command, cwd=cwd, env=environment(**extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(processes: list[subprocess.Popen]) -> str:
    """Wait for every process; return their stdout together (fail with their stderr if one failed)."""
    outputs = [p.communicate(timeout=300) for p in processes]
    for process, (_, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err[-3000:]
    return "".join(out for out, _ in outputs)


def torchrun(*args: str, nodes: int = 1, per_node: int = 2, node_rank: int = 0, port: int) -> list[str]:
    return [
        str(BIN / "torchrun"),
        f"--nnodes={nodes}",
        f"--nproc_per_node={per_node}",
        f"--node_rank={node_rank}",
        f"--rdzv-endpoint=127.0.0.1:{port}",
        str(BIN / "lighter"),
        *args,
    ]


def check_one_run(folder: Path, stdout: str, ranks: int = 2) -> int:
    """One seed printed once and used by every rank, one config.yaml and one checkpoint; the seed."""
    seeds = re.findall(r"^Seed: (\d+)$", stdout, re.MULTILINE)
    assert len(seeds) == 1, stdout[-2000:]
    seed = int(seeds[0])
    recorded = [json.loads((folder / "seeds" / f"fit-rank{r}.json").read_text()) for r in range(ranks)]
    assert {r["seed"] for r in recorded} == {seed}
    assert len({r["weight"] for r in recorded}) == 1  # every rank built the same model
    (config,) = folder.rglob("config.yaml")
    assert yaml.safe_load(config.read_text())["seed"] == seed
    (checkpoint,) = folder.rglob("*.ckpt")
    assert checkpoint.name == "epoch=0-step=4.ckpt"  # 64 samples / 2 ranks / batch 8
    return seed


@pytest.mark.slow
def test_torchrun_one_node_two_processes_then_test(fresh_experiment):
    folder = fresh_experiment
    port = free_port()
    out = finish([start(torchrun("fit", "experiment.yaml", *DDP, "--trainer#devices=2", port=port), folder)])
    check_one_run(folder, out)
    (checkpoint,) = folder.rglob("*.ckpt")
    command = torchrun(
        "test",
        "experiment.yaml",
        *DDP,
        "--trainer#devices=2",
        f"--args#test#ckpt_path={checkpoint}",
        "--trainer#default_root_dir=tested",
        port=free_port(),
    )
    out = finish([start(command, folder)])
    assert out.count("test/metrics/MulticlassAccuracy/epoch") == 1  # the table, printed by rank 0


@pytest.mark.slow
def test_torchrun_two_nodes_one_process_each(fresh_experiment):
    folder = fresh_experiment
    port = free_port()
    args = ("fit", "experiment.yaml", *DDP, "--trainer#devices=1", "--trainer#num_nodes=2")
    nodes = [start(torchrun(*args, nodes=2, per_node=1, node_rank=r, port=port), folder) for r in (0, 1)]
    check_one_run(folder, finish(nodes))


@pytest.mark.slow
def test_simulated_slurm_two_tasks(fresh_experiment):
    folder = fresh_experiment
    slurm = {
        "SLURM_NTASKS": "2",
        "SLURM_NTASKS_PER_NODE": "2",
        "SLURM_NNODES": "1",
        "SLURM_NODEID": "0",
        "SLURM_NODELIST": "127.0.0.1",
        "SLURM_JOB_NAME": "lighter",
        "SLURM_JOB_ID": "4242",
        "SLURM_STEP_ID": "0",
        "MASTER_PORT": str(free_port()),  # as the sbatch script in docs/scaling_out.md sets it
    }
    command = [str(BIN / "lighter"), "fit", "experiment.yaml", *DDP, "--trainer#devices=2"]
    tasks = [start(command, folder, **slurm, SLURM_PROCID=str(r), SLURM_LOCALID=str(r)) for r in (0, 1)]
    check_one_run(folder, finish(tasks))
