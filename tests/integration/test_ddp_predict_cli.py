"""``lighter predict`` with two CPU DDP processes: every sample written once, with the model's prediction."""

from __future__ import annotations

import ast
import csv

import pytest
import torch
from torch import nn

SAMPLES = 11  # odd: the two ranks get uneven shares
SEED = 1234
DATA_SEED = 7

# The inputs use their own generator, so the global RNG (seeded from `seed:`) only builds the model:
# a single-process `torch.manual_seed(SEED); nn.Linear(4, 3)` makes the same weights.
EXPERIMENT = f"""\
seed: {SEED}
trainer:
  _target_: pytorch_lightning.Trainer
  accelerator: cpu
  strategy: ddp
  devices: 2
  logger: false
  enable_progress_bar: false
  enable_model_summary: false
  callbacks:
    - _target_: lighter.callbacks.FileWriter
      path: out/files
      writer: tensor
    - _target_: lighter.callbacks.TableWriter
      path: out/preds.csv
      writer: tensor
system:
  _target_: lighter.System
  model:
    _target_: torch.nn.Linear
    in_features: 4
    out_features: 3
  dataloaders:
    predict:
      _target_: torch.utils.data.DataLoader
      batch_size: 2
      dataset:
        _target_: torch.utils.data.TensorDataset
        _args_: ["$torch.randn({SAMPLES}, 4, generator=torch.Generator().manual_seed({DATA_SEED}))"]
"""


def _expected() -> torch.Tensor:
    inputs = torch.randn(SAMPLES, 4, generator=torch.Generator().manual_seed(DATA_SEED))
    torch.manual_seed(SEED)
    model = nn.Linear(4, 3)
    with torch.no_grad():
        return model(inputs)


@pytest.mark.slow
def test_ddp_predict_from_the_command_line_writes_each_sample_once(tmp_path, lighter):
    (tmp_path / "experiment.yaml").write_text(EXPERIMENT)

    result = lighter("predict", "experiment.yaml", cwd=tmp_path)

    assert result.returncode == 0, result.stderr[-3000:]
    expected = _expected()
    files = sorted((tmp_path / "out" / "files").iterdir(), key=lambda p: int(p.stem))
    # one file per sample, named by its dataset index, and no staging leftovers
    assert [p.name for p in files] == [f"{i}.pt" for i in range(SAMPLES)]
    for i, path in enumerate(files):
        torch.testing.assert_close(torch.load(path, weights_only=True), expected[i])
    with open(tmp_path / "out" / "preds.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["identifier", "pred"]
    assert [int(r[0]) for r in rows[1:]] == list(range(SAMPLES))
    for i, (_, cell) in enumerate(rows[1:]):
        torch.testing.assert_close(torch.tensor(ast.literal_eval(cell)), expected[i])
