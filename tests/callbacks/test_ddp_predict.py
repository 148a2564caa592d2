"""A 2-process CPU DDP predict: every sample written exactly once by both writers, on background threads."""

from __future__ import annotations

import csv
import subprocess
import sys
import textwrap

import pytest
import torch

SCRIPT = textwrap.dedent(
    """
    import os, sys
    import pytorch_lightning as pl
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, DistributedSampler, TensorDataset
    from lighter import System
    from lighter.callbacks import FileWriter, TableWriter

    out, mode = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    data = torch.arange(11 * 3, dtype=torch.float32).reshape(11, 3)  # 11 samples: uneven over 2 ranks
    dataset = TensorDataset(data)
    if mode == "padded":  # the user's own sampler pads rank 1 with a copy of sample 0
        rank = int(os.environ.get("LOCAL_RANK", 0))
        loader = DataLoader(dataset, batch_size=2, sampler=DistributedSampler(dataset, 2, rank, shuffle=False))
    else:
        loader = DataLoader(dataset, batch_size=2)
    system = System(model=nn.Identity(), dataloaders={"predict": loader})
    trainer = pl.Trainer(
        accelerator="cpu", devices=2, strategy="ddp", logger=False, enable_progress_bar=False,
        enable_model_summary=False, use_distributed_sampler=(mode != "padded"),
        callbacks=[
            # TableWriter first: its gather must wait for its own workers, FileWriter's barrier for its own
            TableWriter(os.path.join(out, "t.csv"), "tensor", workers=2, queue_samples=1),
            FileWriter(os.path.join(out, "files"), "tensor", workers=2, queue_samples=1),
        ],
    )
    trainer.predict(system)
    import threading
    leftover = [t.name for t in threading.enumerate() if t.name.startswith("lighter-")]
    files = len(os.listdir(os.path.join(out, "files")))
    with open(os.path.join(out, f"rank{trainer.global_rank}.done"), "w") as f:
        f.write(f"{os.path.exists(os.path.join(out, 't.csv'))} {files} {leftover}")
    """
)


@pytest.mark.slow
@pytest.mark.parametrize(
    "mode", [pytest.param("lightning", id="lightning-sampler"), pytest.param("padded", id="padding")]
)
def test_two_process_ddp_predict_writes_each_sample_once(tmp_path, mode):
    script = tmp_path / "predict_ddp.py"
    script.write_text(SCRIPT)
    out = tmp_path / "out"

    done = subprocess.run(
        [sys.executable, str(script), str(out), mode],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    # both ranks finished, and each saw the CSV and every file of both ranks already written when
    # predict returned, with no writer thread left
    assert (out / "rank0.done").read_text() == "True 11 []"
    assert (out / "rank1.done").read_text() == "True 11 []"
    data = torch.arange(11 * 3, dtype=torch.float32).reshape(11, 3)
    files = sorted((out / "files").iterdir(), key=lambda p: int(p.stem))
    assert [p.name for p in files] == [f"{i}.pt" for i in range(11)]  # no temporary files either
    for i, path in enumerate(files):
        assert torch.equal(torch.load(path, weights_only=True), data[i])
    with open(out / "t.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["identifier", "pred"]
    assert [int(r[0]) for r in rows[1:]] == list(range(11))
    assert [r[1] for r in rows[1:]] == [str(data[i].tolist()) for i in range(11)]
