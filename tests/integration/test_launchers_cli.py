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


def finish(processes: list[subprocess.Popen], timeout: float = 300) -> str:
    """Wait for every process; return their stdout together (fail with their stderr if one failed)."""
    outputs = [p.communicate(timeout=timeout) for p in processes]
    for process, (_, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err[-3000:]
    return "".join(out for out, _ in outputs)


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


def page_commands() -> dict[str, str]:
    """The shell commands of docs/scaling_out.md, by the first word that starts them."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "scaling_out.md").read_text()
    commands = {}
    for block in re.findall(r"```bash\n(.*?)```", page, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = line.split()
            if words and words[0] in ("lighter", "torchrun", "srun"):
                key = f"{words[0]}-nodes" if "--nnodes=2" in words else words[0]
                commands[key] = re.sub(r" +", " ", line.strip())
    return commands


COMMANDS = page_commands()
QUICK = "--trainer#max_epochs=1"


def test_the_page_has_every_launcher():
    assert sorted(COMMANDS) == ["lighter", "srun", "torchrun", "torchrun-nodes"]


def shell(command: str, cwd: Path, **extra: str) -> subprocess.Popen:
    """Start ``command`` in bash, with the venv's commands first on PATH (as an activated venv)."""
    path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    return start(["bash", "-c", command], cwd, PATH=path, **extra)


@pytest.mark.slow
def test_lightnings_launcher(fresh_experiment):
    folder = fresh_experiment
    check_one_run(folder, finish([shell(f"{COMMANDS['lighter']} {QUICK}", folder)]))


@pytest.mark.slow
def test_torchrun_one_node_two_processes_then_test(fresh_experiment):
    folder = fresh_experiment
    command = COMMANDS["torchrun"].replace("torchrun ", f"torchrun --master-port={free_port()} ", 1)
    check_one_run(folder, finish([shell(f"{command} {QUICK}", folder)]))
    (checkpoint,) = folder.rglob("*.ckpt")
    test = re.sub(r"--master-port=\d+", f"--master-port={free_port()}", command.replace(" fit ", " test "))
    out = finish(
        [shell(f"{test} --args#test#ckpt_path={checkpoint} --trainer#default_root_dir=tested", folder)]
    )
    assert out.count("test/metrics/MulticlassAccuracy/epoch") == 1  # the table, printed by rank 0


@pytest.mark.slow
def test_torchrun_two_nodes_one_process_each(fresh_experiment):
    folder = fresh_experiment
    port = str(free_port())
    nodes = [
        shell(
            f"{COMMANDS['torchrun-nodes']} {QUICK}",
            folder,
            NODE_RANK=str(r),
            HEAD_NODE="127.0.0.1",
            PORT=port,
        )
        for r in (0, 1)
    ]
    check_one_run(folder, finish(nodes))


@pytest.mark.slow
def test_simulated_slurm_two_tasks(fresh_experiment):
    """The sbatch script's srun line, as two tasks with the variables srun sets for them."""
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
        "MASTER_PORT": str(free_port()),  # as the sbatch script sets it
    }
    command = COMMANDS["srun"].removeprefix("srun ")
    tasks = [
        shell(f"{command} {QUICK}", folder, **slurm, SLURM_PROCID=str(r), SLURM_LOCALID=str(r))
        for r in (0, 1)
    ]
    check_one_run(folder, finish(tasks))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("options", "first_line"),
    [
        pytest.param(
            "--trainer#devices=2 --trainer#strategy=ddp_spawn",
            "command line @ trainer#strategy: torchrun already started 2 processes, but the strategy "
            "starts its own with 'spawn' (every rank would run a separate copy of the whole run) "
            "(use --trainer#strategy=ddp)",
            id="ddp_spawn-under-torchrun",
        ),
        pytest.param(
            "--trainer#strategy=ddp",
            "experiment.yaml:6 @ trainer#devices: torchrun started 2 processes, but trainer#devices × "
            "trainer#num_nodes is 1 × 1 = 1 (set --trainer#devices=2)",
            id="world-size-mismatch",
        ),
    ],
)
def test_a_trainer_that_does_not_fit_the_launcher(options, first_line, fresh_experiment):
    command = (
        f"torchrun --nproc_per_node=2 --master-port={free_port()} -m lighter fit experiment.yaml {options}"
    )
    process = shell(command, fresh_experiment)
    _, err = process.communicate(timeout=300)
    assert process.returncode != 0
    assert err.count(first_line + "\n") == 2  # each rank says it, before building anything else
    assert not list(fresh_experiment.rglob("config.yaml"))
