"""The stage table drives everything: check its rows against the SPEC §7 table."""

from __future__ import annotations

import pytest

from lighter.engine.stages import STAGES, Stage, stage_spec
from lighter.errors import StageError


def test_every_stage_has_one_row():
    assert list(STAGES) == list(Stage)
    assert [s.value for s in Stage] == ["fit", "validate", "test", "predict", "lr_find", "scale_batch_size"]


@pytest.mark.parametrize(
    ("stage", "modes", "needs"),
    [
        pytest.param(
            "fit", ("train", "val"), ("model", "optimizer", "criterion", "dataloaders#train"), id="fit"
        ),
        pytest.param("validate", ("val",), ("model", "dataloaders#val"), id="validate"),
        pytest.param("test", ("test",), ("model", "dataloaders#test"), id="test"),
        pytest.param("predict", ("predict",), ("model", "dataloaders#predict"), id="predict"),
        pytest.param(
            "lr_find",
            ("train", "val"),
            ("model", "optimizer", "criterion", "dataloaders#train"),
            id="lr_find",
        ),
        pytest.param(
            "scale_batch_size",
            ("train", "val"),
            ("model", "optimizer", "criterion", "dataloaders#train"),
            id="scale",
        ),
    ],
)
def test_modes_and_needs(stage, modes, needs):
    spec = stage_spec(stage)
    assert spec.modes == modes
    assert spec.needs == needs


@pytest.mark.parametrize(
    ("stage", "keeps"),
    [
        pytest.param(Stage.FIT, {"criterion", "optimizer", "scheduler", "inferer"}, id="fit"),
        pytest.param(Stage.VALIDATE, {"criterion", "inferer"}, id="validate"),
        pytest.param(Stage.TEST, {"inferer"}, id="test"),
        pytest.param(Stage.PREDICT, {"inferer"}, id="predict"),
    ],
)
def test_parts_each_stage_keeps(stage, keeps):
    assert set(STAGES[stage].parts) == keeps


def test_stages_that_lightning_leaves_silent_report():
    # validate and test print Lightning's own table; predict returns (or writes) its outputs.
    reporting = {stage for stage, spec in STAGES.items() if spec.report is not None}
    assert reporting == {Stage.FIT, Stage.LR_FIND, Stage.SCALE_BATCH_SIZE}


def test_unknown_stage_suggests_closest():
    with pytest.raises(StageError) as info:
        stage_spec("lr-find")
    assert str(info.value) == "unknown stage 'lr-find' (did you mean 'lr_find'?)"


def test_methods_dispatch_to_trainer_and_tuner():
    from pytorch_lightning import Trainer

    trainer = Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False)
    assert STAGES[Stage.FIT].method(trainer) == trainer.fit
    assert STAGES[Stage.PREDICT].method(trainer) == trainer.predict
    lr_find = STAGES[Stage.LR_FIND].method(trainer)
    # wrapped (to drop Lightning's misleading stop notice) with the Tuner method's own signature
    assert type(lr_find.__wrapped__.__self__).__name__ == "Tuner" and lr_find.__name__ == "lr_find"
    assert STAGES[Stage.SCALE_BATCH_SIZE].method(trainer).__name__ == "scale_batch_size"


def test_tuner_refuses_multi_process_strategy():
    from pytorch_lightning import Trainer

    trainer = Trainer(accelerator="cpu", devices=2, strategy="ddp", logger=False, enable_progress_bar=False)
    with pytest.raises(StageError) as info:
        STAGES[Stage.LR_FIND].method(trainer)
    assert str(info.value).startswith(
        "@ trainer#strategy: the tuner stages run on a single device, but the trainer uses DDPStrategy"
    )
