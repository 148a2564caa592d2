"""The same experiment started by external launchers, on CPU (gloo), through the real ``lighter``
command: torchrun (one node × 2 processes; 2 "nodes" × 1 process on localhost) and SLURM's srun
(simulated: two tasks with the variables srun sets). In each: one seed on every rank, printed once,
``config.yaml`` and the checkpoint written once."""

from __future__ import annotations

import csv
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
            first = next((w for w in words if "=" not in w or w.startswith("-")), "")  # after VAR=value
            if first in ("lighter", "torchrun", "srun"):
                nodes = "--nnodes=2" in words or "NODE_RANK=$NODE_RANK" in words
                key = first + ("-nodes" if nodes else "")
                key += "-restarts" if "--max-restarts=1" in words else ""
                commands[key] = re.sub(r" +", " ", line.strip())
    return commands


def page_file(name: str) -> str:
    """The body of the page's ``<!-- fragment: NAME -->`` block."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "scaling_out.md").read_text()
    (body,) = re.findall(rf"<!-- fragment: {re.escape(name)} -->\n```yaml\n(.*?)```", page, re.S)
    return body


COMMANDS = page_commands()
QUICK = "--trainer#max_epochs=1"


def test_the_page_has_every_launcher():
    assert sorted(COMMANDS) == [
        "lighter",
        "lighter-nodes",
        "srun",
        "torchrun",
        "torchrun-nodes",
        "torchrun-restarts",
    ]


def shell(command: str, cwd: Path, **extra: str) -> subprocess.Popen:
    """Start ``command`` in bash, with the venv's commands first on PATH (as an activated venv)."""
    path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    return start(["bash", "-c", command], cwd, PATH=path, **extra)


# Merged after the experiment for `predict`: a FileWriter, and 11 samples for 2 or 4 ranks (the
# DistributedSampler pads the last shares with repeats, which must not add files).
WRITE = """\
trainer:
  +callbacks:
    - _target_: lighter.callbacks.FileWriter
      path: predictions
      writer: tensor
system:
  dataloaders:
    predict:
      batch_size: 2
      dataset:
        _args_: ["$torch.randn(11, 4)"]
"""


def predict_command(command: str) -> str:
    """The same launch, for ``predict`` with the FileWriter of :data:`WRITE` (and a port of its own)."""
    command = re.sub(r"--master-port=\d+", f"--master-port={free_port()}", command)
    return command.replace(" fit ", " predict ").replace("experiment.yaml", "experiment.yaml,write.yaml")


def check_each_sample_written_once(folder: Path, stdout: str) -> None:
    assert len(re.findall(r"^Seed: \d+$", stdout, re.MULTILINE)) == 1, stdout[-2000:]
    names = sorted(p.name for p in (folder / "predictions").iterdir())
    assert names == sorted(f"{i}.pt" for i in range(11))  # each once; no temporary files left


@pytest.mark.slow
def test_lightnings_launcher(fresh_experiment):
    folder = fresh_experiment
    (folder / "write.yaml").write_text(WRITE)
    check_one_run(folder, finish([shell(f"{COMMANDS['lighter']} {QUICK}", folder)]))
    check_each_sample_written_once(folder, finish([shell(predict_command(COMMANDS["lighter"]), folder)]))


@pytest.mark.slow
def test_torchrun_one_node_two_processes_then_test_and_predict(fresh_experiment):
    folder = fresh_experiment
    (folder / "write.yaml").write_text(WRITE)
    command = COMMANDS["torchrun"].replace("torchrun ", f"torchrun --master-port={free_port()} ", 1)
    check_one_run(folder, finish([shell(f"{command} {QUICK}", folder)]))
    (checkpoint,) = folder.rglob("*.ckpt")
    test = re.sub(r"--master-port=\d+", f"--master-port={free_port()}", command.replace(" fit ", " test "))
    out = finish(
        [shell(f"{test} --args#test#ckpt_path={checkpoint} --trainer#default_root_dir=tested", folder)]
    )
    assert out.count("test/metrics/MulticlassAccuracy/epoch") == 1  # the table, printed by rank 0
    predict = predict_command(command) + f" --args#predict#ckpt_path={checkpoint}"
    check_each_sample_written_once(folder, finish([shell(predict, folder)]))


def two_nodes(command: str, folder: Path) -> list[subprocess.Popen]:
    """``command`` started as node 0 and node 1 of a run whose head node is this machine."""
    port = str(free_port())
    return [shell(command, folder, NODE_RANK=str(r), HEAD_NODE="127.0.0.1", PORT=port) for r in (0, 1)]


@pytest.mark.slow
def test_torchrun_two_nodes_one_process_each(fresh_experiment):
    folder = fresh_experiment
    (folder / "write.yaml").write_text(WRITE)
    check_one_run(folder, finish(two_nodes(f"{COMMANDS['torchrun-nodes']} {QUICK}", folder)))
    check_each_sample_written_once(
        folder, finish(two_nodes(predict_command(COMMANDS["torchrun-nodes"]), folder))
    )


@pytest.mark.slow
def test_lightnings_launcher_on_two_nodes_two_devices_each(fresh_experiment):
    """Two "machines" on localhost, each starting its second process itself: four ranks, one seed."""
    folder = fresh_experiment
    (folder / "write.yaml").write_text(WRITE)
    out = finish(two_nodes(f"{COMMANDS['lighter-nodes']} {QUICK}", folder))
    seeds = re.findall(r"^Seed: (\d+)$", out, re.MULTILINE)
    assert len(seeds) == 1, out  # printed by global rank 0 only
    recorded = [json.loads((folder / "seeds" / f"fit-rank{r}.json").read_text()) for r in range(4)]
    assert {r["seed"] for r in recorded} == {int(seeds[0])}
    assert len({r["weight"] for r in recorded}) == 1  # every rank of both nodes built the same model
    (config,) = folder.rglob("config.yaml")
    assert yaml.safe_load(config.read_text())["seed"] == int(seeds[0])
    (checkpoint,) = folder.rglob("*.ckpt")
    assert checkpoint.name == "epoch=0-step=2.ckpt"  # 64 samples / 4 ranks / batch 8
    check_each_sample_written_once(
        folder, finish(two_nodes(predict_command(COMMANDS["lighter-nodes"]), folder))
    )


def slurm_tasks(command: str, folder: Path) -> list[subprocess.Popen]:
    """``command`` as the two tasks srun starts, with the variables srun sets for them."""
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
    command = command.removeprefix("srun ")
    return [shell(command, folder, **slurm, SLURM_PROCID=str(r), SLURM_LOCALID=str(r)) for r in (0, 1)]


@pytest.mark.slow
def test_simulated_slurm_two_tasks(fresh_experiment):
    """The sbatch script's srun line, for fit and then predict."""
    folder = fresh_experiment
    (folder / "write.yaml").write_text(WRITE)
    check_one_run(folder, finish(slurm_tasks(f"{COMMANDS['srun']} {QUICK}", folder)))
    check_each_sample_written_once(folder, finish(slurm_tasks(predict_command(COMMANDS["srun"]), folder)))


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


# A rank that dies like a process the OOM killer or `kill -9` stops: SIGKILL, no clean-up. The
# hooks record every step each attempt runs, and kill rank 1 on the first attempt only.
KILL = """\
import json
import os
import signal

import torch
from pytorch_lightning import Callback


def first_attempt():
    return os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") == "0"


class KillOnce(Callback):
    def __init__(self, rank, epoch, batch):
        self.rank, self.epoch, self.batch = rank, epoch, batch

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        os.makedirs("steps", exist_ok=True)
        with open(f"steps/rank{trainer.global_rank}.jsonl", "a") as f:
            step = {"restart": os.environ["TORCHELASTIC_RESTART_COUNT"], "epoch": trainer.current_epoch}
            f.write(json.dumps(step) + "\\n")
        if first_attempt() and trainer.global_rank == self.rank and trainer.current_epoch == self.epoch:
            if batch_idx == self.batch:
                os.kill(os.getpid(), signal.SIGKILL)


def write_or_die(path, tensor):
    \"\"\"Save a sample; on the first attempt, die half-way through sample 13's file.\"\"\"
    with open(f"{path}.pt", "wb") as f:
        if first_attempt() and path.name == "13":
            f.write(b"half a file")
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        torch.save(tensor, f)
"""

KILL_IN_FIT = """\
trainer:
  max_epochs: 4
  +callbacks:
    - _target_: project.kill.KillOnce
      rank: 1
      epoch: 2
      batch: 2
"""


def restart_command(command: str) -> str:
    return command.replace("torchrun ", f"torchrun --master-port={free_port()} ", 1)


@pytest.mark.slow
@pytest.mark.parametrize("rendezvous", ["", "--standalone"], ids=["static", "standalone"])
def test_torchrun_restarts_a_killed_rank_and_the_fit_continues(rendezvous, fresh_experiment):
    """SIGKILL rank 1 in the middle of epoch 2 of 4: torchrun restarts the group, which continues
    from the last checkpoint (the page's two lines) in the same run folder with the same seed.
    With the page's command (static rendezvous) and with the common ``--standalone``."""
    folder = fresh_experiment
    (folder / "project" / "kill.py").write_text(KILL)
    (folder / "restart.yaml").write_text(page_file("restart.yaml"))
    (folder / "kill.yaml").write_text(KILL_IN_FIT)
    command = restart_command(COMMANDS["torchrun-restarts"]).replace("restart.yaml", "restart.yaml,kill.yaml")
    command = command.replace("torchrun ", f"torchrun {rendezvous} ", 1)

    out = finish([shell(command, folder)])

    for rank in (0, 1):  # epochs 0-2 on the first attempt; from epoch 2 again after the restart
        steps = [
            json.loads(line) for line in (folder / "steps" / f"rank{rank}.jsonl").read_text().splitlines()
        ]
        first = [s["epoch"] for s in steps if s["restart"] == "0"]
        second = [s["epoch"] for s in steps if s["restart"] == "1"]
        assert first[-1] == 2 and second == [2, 2, 2, 2, 3, 3, 3, 3], steps
    assert (
        "torchrun restarted the run (restart 1): continuing it in its run folder from the last checkpoint"
        in out
    )
    seeds = re.findall(r"^Seed: (\d+)$", out, re.MULTILINE)
    assert len(seeds) == 2 and len(set(seeds)) == 1, out  # printed once per attempt, the same seed
    (run,) = (folder / "runs" / "lightning_logs").iterdir()  # one run folder for both attempts
    assert f"Resuming {run} from last.ckpt" in out
    (config,) = folder.rglob("config.yaml")
    assert yaml.safe_load(config.read_text())["seed"] == int(seeds[0])
    with open(run / "metrics.csv", newline="") as handle:
        epochs = {row["epoch"] for row in csv.DictReader(handle)}
    assert {"0", "1", "2", "3"} <= epochs  # the first attempt's rows are kept
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["epoch=3-step=16.ckpt", "last.ckpt"]
    assert not list(folder.rglob(".lighter-tmp-*"))


KILL_IN_PREDICT = """\
seed: 3
trainer:
  +callbacks:
    - _target_: lighter.callbacks.FileWriter
      path: out
      writer:
        _target_: project.kill.write_or_die
        _mode_: callable
system:
  dataloaders:
    predict:
      batch_size: 2
      dataset:
        _args_: ["$torch.randn(40, 4, generator=torch.Generator().manual_seed(7))"]
"""


@pytest.mark.slow
def test_torchrun_restarts_a_predict_killed_mid_write(fresh_experiment):
    """Rank 1 dies half-way through a file: after the restart each of the 40 samples has its file,
    once, with the prediction, and the stopped attempt's temporary files are gone."""
    import torch

    folder = fresh_experiment
    (folder / "project" / "kill.py").write_text(KILL)
    (folder / "kill.yaml").write_text(KILL_IN_PREDICT)
    command = restart_command(COMMANDS["torchrun-restarts"])
    command = command.replace(" fit ", " predict ").replace("restart.yaml", "kill.yaml")

    out = finish([shell(command, folder)])

    assert out.count("Seed: 3") == 2  # two attempts
    names = sorted(p.name for p in (folder / "out").iterdir())
    assert names == sorted(f"{i}.pt" for i in range(40))  # no .lighter-tmp-* left
    torch.manual_seed(3)
    model = torch.nn.Linear(4, 2)  # the experiment's model, built from the seed
    inputs = torch.randn(40, 4, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        expected = model(inputs)
    for i in range(40):
        torch.testing.assert_close(torch.load(folder / "out" / f"{i}.pt", weights_only=True), expected[i])
