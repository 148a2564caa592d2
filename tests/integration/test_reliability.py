"""Bad input and hostile conditions through the real ``lighter`` command (issue 16).

Each case asserts the exit status, the exact lighter line (with the id or path it names), that no
traceback is shown where none is wanted, and that nothing was left half-written.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lighter.atomic import TEMP_PREFIX

HINT = "(run with --debug for the full traceback)"

# Counts finished batches in a file and slows each one down, so a test can send a signal mid-run.
PROGRESS = """\
import time

from pytorch_lightning import Callback


class Progress(Callback):
    def __init__(self, path, delay=0.2):
        self.path, self.delay, self.count = path, delay, 0

    def _tick(self):
        self.count += 1
        with open(self.path, "w") as f:
            f.write(str(self.count))
        time.sleep(self.delay)

    def on_train_batch_end(self, *args):
        self._tick()

    def on_predict_batch_end(self, *args):
        self._tick()
"""

LAST_ONLY = """\
trainer:
  logger: false
  callbacks:
    - _target_: pytorch_lightning.callbacks.ModelCheckpoint
      dirpath: ckpts
      save_top_k: 0
      save_last: true
"""


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LIGHTER_DEBUG", "LIGHTER_SEED")}
    env["PYTHONWARNINGS"] = "ignore"
    return env


def _start(*args: str, cwd: Path, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "lighter", *args],
        cwd=cwd,
        env=_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def _temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.startswith(TEMP_PREFIX)]


# --- values that would fail deep inside Lightning or numpy -------------------------------------


@pytest.mark.parametrize(
    ("override", "first_line"),
    [
        pytest.param(
            "--seed=-1",
            "command line @ seed: seed must be between 0 and 4294967295 (numpy's range), got -1",
            id="negative-seed",
        ),
        pytest.param(
            "--seed=4294967296",
            "command line @ seed: seed must be between 0 and 4294967295 (numpy's range), got 4294967296",
            id="seed-above-numpy-bound",
        ),
        pytest.param(
            "--args#fit#ckpt_path=5",
            "command line @ args#fit#ckpt_path: ckpt_path must be the path of a checkpoint file, got int 5 "
            "(quote it if it is a file name, or use 'last' or 'best')",
            id="ckpt-path-number",
        ),
        pytest.param(
            "--args#fit#ckpt_path=old_ckpts",
            "command line @ args#fit#ckpt_path: checkpoint 'old_ckpts' is a folder, not a file "
            "(did you mean 'old_ckpts/last.ckpt'?)",
            id="ckpt-path-folder",
        ),
        pytest.param(
            "--args#fit#ckpt_path=notes.ckpt",
            "command line @ args#fit#ckpt_path: 'notes.ckpt' is not a checkpoint: not a file torch.save wrote",
            id="ckpt-path-not-a-checkpoint",
        ),
        pytest.param(
            "--args#fit#ckpt_path=cut.ckpt",
            "command line @ args#fit#ckpt_path: 'cut.ckpt' is not a checkpoint: "
            "a damaged zip archive (a checkpoint cut short while it was written?)",
            id="ckpt-path-truncated",
        ),
    ],
)
@pytest.mark.slow
def test_bad_seed_and_checkpoint_path_are_located(experiment, lighter, override, first_line):
    (experiment / "old_ckpts").mkdir(exist_ok=True)
    torch.save({"state_dict": {}}, experiment / "old_ckpts" / "last.ckpt")
    (experiment / "notes.ckpt").write_text("not a checkpoint\n")
    whole = (experiment / "old_ckpts" / "last.ckpt").read_bytes()
    (experiment / "cut.ckpt").write_bytes(whole[: len(whole) // 2])
    result = lighter("fit", "experiment.yaml", override, "--trainer#default_root_dir=refused", cwd=experiment)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == first_line, result.stderr
    assert result.stderr.splitlines()[-1] == HINT
    assert "Traceback" not in result.stderr
    assert not (experiment / "refused").exists()  # refused before anything was built or written


# --- outputs that cannot be written ---------------------------------------------------------------


@pytest.mark.slow
def test_a_file_where_the_run_folder_belongs(experiment, lighter):
    (experiment / "taken").write_text("a file, not a folder\n")
    result = lighter(
        "fit",
        "experiment.yaml",
        "--trainer#default_root_dir=taken/runs",
        "--trainer#max_epochs=1",
        cwd=experiment,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[-2:] == [
        # the run folder is decided before the stage starts
        "command line @ trainer#default_root_dir: cannot write 'taken': a file is in the way where a folder belongs",
        HINT,
    ], result.stderr
    assert "Traceback" not in result.stderr
    assert (experiment / "taken").read_text() == "a file, not a folder\n"


@pytest.mark.slow
def test_a_failed_checkpoint_save_keeps_the_previous_one(experiment, lighter):
    """A file-size limit makes the save fail halfway: last.ckpt stays the previous, loadable one."""
    (experiment / "last_only.yaml").write_text(LAST_ONLY)
    first = lighter("fit", "experiment.yaml,last_only.yaml", "--trainer#max_epochs=1", cwd=experiment)
    assert first.returncode == 0, first.stderr
    last = experiment / "ckpts" / "last.ckpt"
    before = last.read_bytes()
    limit = len(before) // 2

    def limit_file_size():  # in the child only; Python ignores SIGXFSZ, so writes fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    process = _start(
        "fit",
        "experiment.yaml,last_only.yaml",
        "--trainer#max_epochs=2",
        "--args#fit#ckpt_path=ckpts/last.ckpt",
        cwd=experiment,
        preexec_fn=limit_file_size,
    )
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 1, stderr
    assert stderr.splitlines()[-2:] == [
        # saved when training ends, after the last epoch
        "last_only.yaml:5 @ trainer#callbacks#0#dirpath: during fit, epoch 2, step 16: "
        "cannot save checkpoint 'ckpts/last.ckpt': file too large",
        HINT,
    ], stderr
    assert "Traceback" not in stderr
    assert last.read_bytes() == before
    assert torch.load(last, weights_only=False)["global_step"] == 8  # the first run's one epoch
    assert _temp_files(experiment / "ckpts") == []


# --- errors in the user's own code ------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("overrides", "last_line", "raised_by"),
    [
        pytest.param(
            ["--system#model#out_features=3", "--system#criterion#_target_=torch.nn.MSELoss"],
            "experiment.yaml:20 @ system#criterion: during fit, epoch 0, step 0: RuntimeError: "
            "The size of tensor a (3) must match the size of tensor b (8) at non-singleton dimension 1",
            "torch/functional.py",
            id="criterion-shape-mismatch",
        ),
        pytest.param(
            ["--system#dataloaders#train#dataset#_args_#1=$torch.full((64,), 5)"],
            "experiment.yaml:20 @ system#criterion: during fit, epoch 0, step 0: IndexError: "
            "Target 5 is out of bounds.",
            "torch/nn/functional.py",
            id="target-out-of-range",
        ),
        pytest.param(
            # A callable collate_fn passes the annotation check (`collate_fn: 5` does not get this
            # far); this one fails on the batch it is given.
            ["--system#dataloaders#train#collate_fn=$torch.stack"],
            "experiment.yaml:32 @ system#dataloaders#train: during fit, epoch 0, step 0: TypeError: "
            "expected Tensor as element 0 in argument 0, but got tuple",
            "torch/utils/data/_utils/fetch.py",
            id="collate-that-fails",
        ),
    ],
)
def test_user_code_errors_keep_their_traceback_and_name_the_part(
    experiment, lighter, overrides, last_line, raised_by
):
    result = lighter(
        "fit",
        "experiment.yaml",
        "--trainer#num_sanity_val_steps=0",
        "--trainer#logger=false",
        "--trainer#enable_checkpointing=false",
        *overrides,
        cwd=experiment,
    )
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[-1] == last_line, result.stderr
    assert "Traceback (most recent call last" in result.stderr
    assert raised_by in result.stderr
    assert "pytorch_lightning/loops" not in result.stderr  # Lightning's own frames are left out


# --- signals ------------------------------------------------------------------------------------


def test_a_collate_fn_that_is_not_callable_never_reaches_the_loader(experiment, lighter):
    result = lighter("fit", "experiment.yaml", "--system#dataloaders#train#collate_fn=5", cwd=experiment)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "command line @ system#dataloaders#train#collate_fn: expects callable, got 5 (int)"
    )
    assert "Traceback" not in result.stderr


def _signal_after_first_batch(process: subprocess.Popen, progress: Path, signum: int) -> int:
    """Send ``signum`` once a batch has finished; return how many had when it was sent."""
    deadline = time.monotonic() + 240
    while not (progress.exists() and progress.read_text()):
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, "no batch finished"
        time.sleep(0.05)
    done = int(progress.read_text())
    process.send_signal(signum)
    return done


@pytest.mark.slow
def test_sigterm_stops_fit_after_the_batch_and_saves_a_checkpoint_to_resume_from(experiment, lighter):
    (experiment / "project" / "progress.py").write_text(PROGRESS)
    (experiment / "slow_fit.yaml").write_text(
        "trainer:\n  max_epochs: 100\n  default_root_dir: sigterm\n"
        "  callbacks: [{_target_: project.progress.Progress, path: fit_progress.txt}]\n"
    )
    process = _start("fit", "experiment.yaml,slow_fit.yaml", cwd=experiment)
    done = _signal_after_first_batch(process, experiment / "fit_progress.txt", signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr
    finished = int((experiment / "fit_progress.txt").read_text())
    assert finished <= done + 1  # stopped within one batch
    checkpoint = experiment / "sigterm/lightning_logs/version_0/checkpoints/interrupted.ckpt"
    assert stderr.splitlines()[-2:] == [
        f"stopped by SIGTERM during fit, epoch 0, step {finished}; saved a checkpoint to resume from: "
        f"{checkpoint.relative_to(experiment)}",
        f"  resume with: lighter fit experiment.yaml,slow_fit.yaml "
        f"'--args#fit#ckpt_path={checkpoint.relative_to(experiment)}'",
    ], stderr
    assert "Traceback" not in stderr
    assert torch.load(checkpoint, weights_only=False)["global_step"] == finished
    assert _temp_files(experiment / "sigterm") == []
    (entry,) = json.loads((checkpoint.parents[1] / "run.json").read_text())["entries"]
    assert (entry["outcome"], entry["signal"], entry["error"]) == ("interrupted", "SIGTERM", None)
    assert entry["ended"] is not None

    resumed = lighter(
        "fit",
        "experiment.yaml",
        "--trainer#max_epochs=1",
        f"--args#fit#ckpt_path={checkpoint}",
        cwd=experiment,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"Restored all states from the checkpoint at {checkpoint}" in resumed.stdout + resumed.stderr


@pytest.mark.slow
def test_sigint_stops_predict_after_the_batch(experiment):
    (experiment / "project" / "progress.py").write_text(PROGRESS)
    process = _start(
        "predict",
        "experiment.yaml",
        "--system#dataloaders#predict#dataset#_args_#0=$torch.randn(400, 4)",
        "--trainer#callbacks=[{_target_: project.progress.Progress, path: predict_progress.txt}]",
        "--trainer#logger=false",
        cwd=experiment,
    )
    done = _signal_after_first_batch(process, experiment / "predict_progress.txt", signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    finished = int((experiment / "predict_progress.txt").read_text())
    assert finished <= done + 1 < 50  # 50 batches in all: it stopped, within one batch
    assert stderr.splitlines()[-1] == f"stopped by SIGINT during predict, batch {finished - 1}", stderr
    assert "Traceback" not in stderr
