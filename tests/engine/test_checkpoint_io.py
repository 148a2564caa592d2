"""AtomicCheckpointIO: a failed save leaves the previous checkpoint whole, and says why."""

from __future__ import annotations

import errno
import os
import resource

import pytest
import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
from pytorch_lightning import Trainer

from lighter.atomic import TEMP_PREFIX
from lighter.engine.checkpoint_io import AtomicCheckpointIO, use_atomic_checkpoints
from lighter.errors import OutputError

BIG = {"state_dict": {"weight": torch.arange(20_000, dtype=torch.float32)}, "global_step": 2}


@pytest.fixture
def previous(tmp_path):
    path = tmp_path / "ckpts" / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"global_step": 1}, path)
    return path


def _leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_saves_a_loadable_checkpoint_creating_its_folder(previous):
    assert torch.load(previous, weights_only=True) == {"global_step": 1}
    assert _leftovers(previous.parent) == []


def test_a_file_size_limit_keeps_the_previous_checkpoint(previous):
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, hard))  # BIG needs about 80 kB
    try:
        with pytest.raises(OutputError) as info:
            AtomicCheckpointIO().save_checkpoint(BIG, previous)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert str(info.value) == f"cannot save checkpoint '{previous}': file too large"
    assert torch.load(previous, weights_only=True) == {"global_step": 1}
    assert _leftovers(previous.parent) == []


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        pytest.param(errno.ENOSPC, "no space left on device", id="disk-full"),
        pytest.param(errno.EDQUOT, "disk quota exceeded", id="quota"),
        pytest.param(errno.EIO, "input/output error", id="io-error"),
    ],
)
def test_a_failing_disk_keeps_the_previous_checkpoint(previous, monkeypatch, number, reason):
    def fail(fd):  # the disk answers the final flush with an error, as a full one does
        raise OSError(number, os.strerror(number))

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OutputError) as info:
        AtomicCheckpointIO().save_checkpoint(BIG, previous)
    assert str(info.value) == f"cannot save checkpoint '{previous}': {reason}"
    assert isinstance(info.value.__cause__, OSError)
    monkeypatch.undo()
    assert torch.load(previous, weights_only=True) == {"global_step": 1}
    assert _leftovers(previous.parent) == []


def test_a_file_where_the_folder_belongs(tmp_path):
    (tmp_path / "runs").write_text("a file\n")
    with pytest.raises(OutputError) as info:
        AtomicCheckpointIO().save_checkpoint(BIG, tmp_path / "runs" / "checkpoints" / "last.ckpt")
    assert str(info.value) == (
        f"cannot save checkpoint '{tmp_path}/runs/checkpoints/last.ckpt': "
        f"'{tmp_path}/runs': a file is in the way where a folder belongs"
    )
    assert info.value.path == f"{tmp_path}/runs"


def test_installed_by_default_but_a_configured_plugin_is_kept(tmp_path):
    plain = Trainer(accelerator="cpu", logger=False, default_root_dir=tmp_path)
    assert use_atomic_checkpoints(plain)
    assert type(plain.strategy.checkpoint_io) is AtomicCheckpointIO

    class Mine(TorchCheckpointIO):
        pass

    mine = Mine()
    custom = Trainer(accelerator="cpu", logger=False, default_root_dir=tmp_path, plugins=[mine])
    assert not use_atomic_checkpoints(custom)
    assert custom.strategy.checkpoint_io is mine
