"""``lighter predict`` with a writer that fails on a worker thread: one line, exit status 1."""

from __future__ import annotations

import pytest

EXPERIMENT = """\
trainer:
  _target_: pytorch_lightning.Trainer
  accelerator: cpu
  logger: false
  enable_progress_bar: false
  callbacks:
    - _target_: lighter.callbacks.FileWriter
      path: out
      writer: "$lambda path, tensor: 1 / 0 if path.name == '3' else torch.save(tensor, f'{path}.pt')"
      workers: 2
system:
  _target_: lighter.System
  model:
    _target_: torch.nn.Identity
  dataloaders:
    predict:
      _target_: torch.utils.data.DataLoader
      batch_size: 2
      dataset:
        _target_: torch.utils.data.TensorDataset
        _args_: ["$torch.randn(8, 4)"]
"""


@pytest.mark.slow
def test_a_failed_background_write_is_one_line_and_exit_status_1(tmp_path, lighter):
    (tmp_path / "experiment.yaml").write_text(EXPERIMENT)

    result = lighter("predict", "experiment.yaml", cwd=tmp_path)

    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert (
        "FileWriter could not write '3' to out/3: ZeroDivisionError: division by zero (in the writer <lambda>)"
        in lines
    )
    assert lines[-1] == "(run with --debug for the full traceback)"
    assert "Traceback" not in result.stderr
    assert not [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".lighter-tmp-")]
