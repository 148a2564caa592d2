"""One config with prediction writers in ``trainer#callbacks`` runs all six stages through the real
``lighter`` command: the writers stay idle outside predict, and predict reads the labelled test data."""

from __future__ import annotations

import csv

import pytest
import torch

# Merged over the experiment, as users add writers (docs/writers.md). The predict loader is the
# labelled test loader: its (x, y) batches give the model x alone.
WRITERS = """\
trainer:
  +callbacks:
    - _target_: lighter.callbacks.FileWriter
      path: predictions/files
      writer: tensor
    - _target_: lighter.callbacks.TableWriter
      path: predictions/table.csv
      writer: tensor
system:
  dataloaders:
    predict: "%#test"
"""

STAGES = [
    pytest.param("fit", [], id="fit"),
    pytest.param("validate", [], id="validate"),
    pytest.param("test", [], id="test"),
    pytest.param("lr_find", ["--args#lr_find#num_training=8"], id="lr_find"),
    pytest.param("scale_batch_size", ["--args#scale_batch_size#max_trials=2"], id="scale_batch_size"),
]


@pytest.fixture
def folder(fresh_experiment):
    (fresh_experiment / "writers.yaml").write_text(WRITERS)
    return fresh_experiment


@pytest.mark.slow
@pytest.mark.parametrize(("stage", "extra"), STAGES)
def test_writers_stay_idle_outside_predict(stage, extra, folder, lighter):
    result = lighter(stage, "experiment.yaml,writers.yaml", "--trainer#max_epochs=1", *extra, cwd=folder)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert not (folder / "predictions").exists()


@pytest.mark.slow
def test_predict_writes_each_sample_of_labelled_data_once(folder, lighter):
    result = lighter("predict", "experiment.yaml,writers.yaml", cwd=folder, script=True)
    assert result.returncode == 0, result.stderr[-3000:]
    files = list((folder / "predictions" / "files").iterdir())
    assert sorted(f.name for f in files) == sorted(f"{i}.pt" for i in range(16))
    assert all(torch.load(f, weights_only=True).shape == (2,) for f in files)  # logits of one input
    with open(folder / "predictions" / "table.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(int(r["identifier"]) for r in rows) == list(range(16))
