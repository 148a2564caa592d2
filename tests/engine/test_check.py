"""``check_config``: the pre-flight behind ``lighter check``, in-process."""

from __future__ import annotations

import pytest

from lighter.engine.check import check_config, stages_to_check
from lighter.engine.stages import Stage

CONFIG = """\
trainer:
  _target_: pytorch_lightning.Trainer
  max_epochs: 1
system:
  _target_: lighter.System
  model: {_target_: torch.nn.Linear, in_features: 2, out_features: 1}
  dataloaders:
    predict:
      _target_: torch.utils.data.DataLoader
      dataset: "$[1, 2, 3]"
args:
  predict:
    return_predictions: true
"""


@pytest.mark.parametrize(
    ("loaders", "stages"),
    [
        pytest.param({"train": {}, "val": {}}, [Stage.FIT, Stage.VALIDATE], id="train-and-val"),
        pytest.param({"predict": {}}, [Stage.PREDICT], id="predict-only"),
        pytest.param({"test": None}, [Stage.FIT], id="none-left-checks-fit"),
        pytest.param("@vars#loaders", [Stage.FIT], id="reference"),
    ],
)
def test_stages_checked_without_a_stage_are_those_the_dataloaders_set_up(loaders, stages):
    assert stages_to_check({"system": {"dataloaders": loaders}}) == stages


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exp.yaml").write_text(CONFIG)
    return "exp.yaml"


def test_a_working_config_passes_and_is_counted(config):
    report = check_config(config)
    assert report.ok and report.stages == [Stage.PREDICT]
    assert (report.components, report.references, report.expressions) == (4, 0, 1)


def test_stage_arguments_are_checked_by_name_and_type(config, tmp_path):
    (tmp_path / "mistake.yaml").write_text(
        "args:\n  predict:\n    return_prediction: true\n    ckpt_path: 5\n"
    )
    report = check_config(f"{config},mistake.yaml", stage=Stage.PREDICT)
    assert [str(p) for p in report.problems] == [
        "mistake.yaml:3:24 @ args#predict#return_prediction: stage 'predict' takes no argument "
        "'return_prediction' (did you mean 'return_predictions'?)",
        "mistake.yaml:4 @ args#predict#ckpt_path: expects str | Path, got 5 (int)",
    ]


def test_structure_stage_and_graph_problems_come_together_in_line_order(config, tmp_path):
    (tmp_path / "mistake.yaml").write_text(
        "system:\n  crit: {}\n  dataloaders:\n    predict:\n      batch_size: two\n"
    )
    report = check_config(f"{config},mistake.yaml", stage=Stage.FIT)
    assert [str(p).split(": ")[0] for p in report.problems] == [
        "exp.yaml:4:1 @ system#optimizer",  # fit's missing parts, where system is defined
        "mistake.yaml:2:3 @ system#crit",  # once, not again as an unexpected argument of System
        "mistake.yaml:5 @ system#dataloaders#predict#batch_size",
    ]
