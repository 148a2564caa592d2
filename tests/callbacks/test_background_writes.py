"""Writers on background threads: every file written, copies the model cannot touch, errors and
interruptions that stop the run cleanly, a queue that stays within its bounds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from tests.callbacks.helpers import run_predict
from torch import nn

from lighter.callbacks import FileWriter, TableWriter
from lighter.callbacks.write_queue import WriteQueue
from lighter.errors import WriterError


def writer_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("lighter-")]


def temporary_entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".lighter-tmp-"))


def save(path: Path, tensor: torch.Tensor) -> None:
    torch.save(tensor.clone(), f"{path}.pt")


@pytest.fixture
def volumes() -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    return [torch.rand(1, 3, 4, 5, generator=generator) for _ in range(12)]


def test_every_sample_is_written_whatever_order_the_workers_finish_in(tmp_path, volumes):
    finished: list[str] = []
    last_written = threading.Event()

    def write(path: Path, tensor: torch.Tensor) -> None:
        if path.name == "0":  # the first sample finishes after the last one
            assert last_written.wait(timeout=60)
        save(path, tensor)
        finished.append(path.name)
        if path.name == "11":
            last_written.set()

    run_predict([FileWriter(tmp_path, write, workers=3, queue_samples=4)], volumes, batch_size=3)

    assert finished.index("0") > finished.index("11")  # really out of order
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{i}.pt" for i in range(12))
    for i, volume in enumerate(volumes):
        assert torch.equal(torch.load(tmp_path / f"{i}.pt", weights_only=True), volume)
    assert writer_threads() == []


@pytest.mark.parametrize("workers", [0, 2])
def test_builtin_writers_read_back_equal_with_and_without_workers(tmp_path, volumes, workers):
    import nibabel
    import numpy as np

    run_predict(
        [
            FileWriter(tmp_path / "pt", "tensor", workers=workers),
            FileWriter(tmp_path / "nii", "nifti", workers=workers),
        ],
        volumes,
        batch_size=5,
    )

    for i, volume in enumerate(volumes):
        loaded = torch.load(tmp_path / "pt" / f"{i}.pt", weights_only=True)
        assert torch.equal(loaded, volume)
        # a sample is stored alone, not with the rest of its batch
        assert loaded.untyped_storage().nbytes() == volume.numel() * volume.element_size()
        image = nibabel.load(tmp_path / "nii" / f"{i}.nii.gz")
        assert np.array_equal(image.get_fdata(dtype=np.float32), volume[0].numpy())
    assert temporary_entries(tmp_path / "pt") == temporary_entries(tmp_path / "nii") == []


class ReusedBuffer(nn.Module):
    """A model that returns the same output tensor every step, overwritten in place."""

    def __init__(self) -> None:
        super().__init__()
        self.out: torch.Tensor | None = None
        self.steps = 0
        self.overwritten = threading.Event()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.out is None:
            self.out = torch.empty_like(x)
        self.out.copy_(x)
        self.steps += 1
        if self.steps >= 3:
            self.overwritten.set()
        return self.out


def test_a_worker_writes_the_prediction_as_it_was_not_as_the_model_changed_it_later(tmp_path, volumes):
    model = ReusedBuffer()

    def write_late(path: Path, tensor: torch.Tensor) -> None:
        if path.name == "0":
            assert model.overwritten.wait(timeout=60)  # the model has since overwritten its output twice
        save(path, tensor)

    run_predict([FileWriter(tmp_path, write_late, workers=1)], volumes[:4], model=model, batch_size=1)

    for i in range(4):
        assert torch.equal(torch.load(tmp_path / f"{i}.pt", weights_only=True), volumes[i])


def test_a_failing_write_stops_the_run_with_one_error_naming_the_sample(tmp_path, volumes):
    def fail_on_five(path: Path, tensor: torch.Tensor) -> None:
        if path.name == "5":
            Path(f"{path}.pt").write_bytes(b"half")
            raise ValueError("cannot encode this volume")
        save(path, tensor)

    with pytest.raises(WriterError) as info:
        run_predict([FileWriter(tmp_path, fail_on_five, workers=2)], volumes, batch_size=2)

    assert str(info.value).splitlines()[0] == (
        f"FileWriter could not write '5' to {tmp_path}/5: ValueError: cannot encode this volume (in the writer "
        "test_a_failing_write_stops_the_run_with_one_error_naming_the_sample.<locals>.fail_on_five)"
    )
    assert writer_threads() == []
    assert temporary_entries(tmp_path) == []
    assert not (tmp_path / "5.pt").exists()
    for path in tmp_path.iterdir():  # what was written is complete
        assert torch.equal(torch.load(path, weights_only=True), volumes[int(path.stem)])


class StopAt(pl.Callback):
    """Raise ``error`` after the given predict batch, while writes are still queued."""

    def __init__(self, batch: int, error: BaseException) -> None:
        self.batch = batch
        self.error = error

    def on_predict_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        if batch_idx == self.batch:
            raise self.error


@pytest.mark.parametrize(
    "error, raised",
    [
        pytest.param(KeyboardInterrupt(), SystemExit, id="ctrl-c"),
        pytest.param(RuntimeError("out of memory"), RuntimeError, id="exception"),
    ],
)
def test_an_interrupted_run_leaves_complete_files_only_and_no_thread(tmp_path, volumes, error, raised):
    def slow(path: Path, tensor: torch.Tensor) -> None:
        time.sleep(0.05)
        save(path, tensor)

    handler = signal.getsignal(signal.SIGINT)
    try:  # Lightning ignores further Ctrl-C while it shuts down after one
        with pytest.raises(raised):
            run_predict([FileWriter(tmp_path, slow, workers=2), StopAt(2, error)], volumes, batch_size=2)
    finally:
        signal.signal(signal.SIGINT, handler)

    assert writer_threads() == []
    assert temporary_entries(tmp_path) == []
    written = sorted(int(p.stem) for p in tmp_path.iterdir())
    assert written == list(range(len(written)))  # no file beyond what was predicted before the stop
    assert len(written) <= 6
    for i in written:
        assert torch.equal(torch.load(tmp_path / f"{i}.pt", weights_only=True), volumes[i])


FULL_DISK = """\
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, as on a full disk
limit = 64 * 1024
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
import torch
from tests.callbacks.helpers import run_predict
from lighter.callbacks import FileWriter
from lighter.errors import WriterError
volumes = [torch.zeros(1, 32, 32, 32) if i == 3 else torch.zeros(1, 4, 4, 4) for i in range(6)]  # 3 is 128 KiB
try:
    run_predict([FileWriter(sys.argv[1], "tensor", workers=2)], volumes, batch_size=1)
except WriterError as e:
    import threading
    print(str(e).splitlines()[0])
    print([t.name for t in threading.enumerate() if t.name.startswith("lighter-")])
"""


@pytest.mark.slow
def test_a_full_disk_is_one_error_naming_the_sample_and_the_reason(tmp_path):
    out = tmp_path / "out"
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root), os.environ.get("PYTHONPATH", "")]),
    }

    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == [
        f"FileWriter could not write '3' to {out}/3.pt: file too large (in the writer 'tensor')",
        "[]",
    ]
    assert temporary_entries(out) == []
    assert "3.pt" not in os.listdir(out)


def test_a_folder_that_cannot_be_created_stops_before_predicting(tmp_path, volumes):
    (tmp_path / "file").write_text("not a folder")

    with pytest.raises(WriterError) as info:
        run_predict([FileWriter(tmp_path / "file" / "out", "tensor")], volumes)

    assert str(info.value).splitlines()[0] == (
        f"FileWriter cannot create the folder {tmp_path}/file/out: a parent is not a folder"
    )
    assert writer_threads() == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_an_unwritable_folder_stops_before_predicting(tmp_path, volumes):
    (tmp_path / "out").mkdir(mode=0o555)

    with pytest.raises(WriterError) as info:
        run_predict([FileWriter(tmp_path / "out", "tensor")], volumes)

    assert str(info.value).splitlines()[0] == (
        f"FileWriter cannot write into the folder {tmp_path}/out: permission denied"
    )


def test_stale_temporary_entries_are_removed_and_live_ones_kept(tmp_path, volumes):
    stale_folder = tmp_path / ".lighter-tmp-abc123"
    stale_folder.mkdir()
    (stale_folder / "7.nii.gz").write_bytes(b"half a volume")
    stale_file = tmp_path / ".lighter-tmp-table.csv.x1"
    stale_file.write_text("identifier,pred\n")
    hour_ago = time.time() - 3600
    for path in (stale_folder / "7.nii.gz", stale_folder, stale_file):
        os.utime(path, (hour_ago, hour_ago))
    live = tmp_path / ".lighter-tmp-live"  # another run writing into the same folder right now
    live.mkdir()
    (tmp_path / ".user-notes").write_text("mine")

    run_predict([FileWriter(tmp_path, "tensor")], volumes[:2])

    assert sorted(p.name for p in tmp_path.iterdir()) == [".lighter-tmp-live", ".user-notes", "0.pt", "1.pt"]


def test_table_writer_cells_on_workers_and_a_plain_file_mode(tmp_path, volumes):
    old = os.umask(0o022)
    try:
        run_predict(
            [TableWriter(tmp_path / "t.csv", lambda pred: round(float(pred.mean()), 6), workers=2)],
            volumes,
            batch_size=5,
        )
    finally:
        os.umask(old)

    rows = (tmp_path / "t.csv").read_text().splitlines()
    assert rows == ["identifier,pred"] + [f"{i},{round(float(v.mean()), 6)}" for i, v in enumerate(volumes)]
    assert (tmp_path / "t.csv").stat().st_mode & 0o777 == 0o644
    assert writer_threads() == []


def test_table_writer_failing_cell_names_the_sample(tmp_path, volumes):
    def cell(pred: torch.Tensor) -> float:
        raise ZeroDivisionError("no cell")

    with pytest.raises(WriterError) as info:
        run_predict([TableWriter(tmp_path / "t.csv", cell, workers=1)], volumes[:1])

    assert str(info.value).splitlines()[0] == (
        "TableWriter could not make the cell of '0': ZeroDivisionError: no cell (in the writer "
        "test_table_writer_failing_cell_names_the_sample.<locals>.cell)"
    )
    assert not (tmp_path / "t.csv").exists()
    assert writer_threads() == []


@pytest.mark.parametrize(
    "kwargs, first_line",
    [
        pytest.param(
            {"workers": -1},
            "FileWriter's workers must be a whole number of at least 0, got -1",
            id="negative",
        ),
        pytest.param(
            {"workers": "2"}, "FileWriter's workers must be a whole number of at least 0, got '2'", id="text"
        ),
        pytest.param(
            {"workers": True},
            "FileWriter's workers must be a whole number of at least 0, got True",
            id="bool",
        ),
        pytest.param(
            {"queue_samples": 0},
            "FileWriter's queue_samples must be a whole number of at least 1, got 0",
            id="empty-queue",
        ),
        pytest.param(
            {"queue_mib": 0}, "FileWriter's queue_mib must be a positive number, got 0", id="no-bytes"
        ),
    ],
)
def test_queue_settings_out_of_range_are_refused(tmp_path, kwargs, first_line):
    with pytest.raises(WriterError) as info:
        FileWriter(tmp_path, "tensor", **kwargs)
    assert str(info.value).splitlines()[0] == first_line


@pytest.mark.parametrize(
    "max_samples, max_bytes, nbytes, most",
    [
        pytest.param(3, 10**9, 1, 3, id="samples"),
        pytest.param(100, 10, 4, 2, id="bytes"),
        pytest.param(100, 10, 50, 1, id="one-sample-over-the-byte-bound"),
    ],
)
def test_the_queue_never_holds_more_than_its_bounds(max_samples, max_bytes, nbytes, most):
    queue = WriteQueue(1, max_samples=max_samples, max_bytes=max_bytes)
    done: list[int] = []
    seen: list[int] = []

    def job(i: int) -> None:
        time.sleep(0.002)  # slower than submitting: an unbounded queue would fill up
        done.append(i)

    for i in range(30):
        queue.submit(lambda i=i: job(i), nbytes)
        seen.append(queue.pending)
    queue.drain()
    queue.close()

    assert max(seen) <= most
    assert done == list(range(30))
    assert writer_threads() == []
