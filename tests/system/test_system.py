"""System with a real Trainer on tiny CPU data: every mode, logging, adapters, tuning, and errors."""

from __future__ import annotations

import csv
import pickle
import warnings

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.tuner import Tuner
from pytorch_lightning.utilities.model_helpers import is_overridden
from torch import nn
from torch.utils.data import DataLoader, Dataset, RandomSampler
from torchmetrics import Accuracy

from lighter import System
from lighter.adapters import BatchAdapter, CriterionAdapter, LoggingAdapter, MetricsAdapter
from lighter.callbacks import FileWriter, TableWriter
from lighter.errors import AdapterError, LighterError, StageError, SystemError_, ValidationError


def accuracy():
    return Accuracy(task="multiclass", num_classes=2)


def make_system(loaders, lr=0.5, **kwargs):
    model = kwargs.pop("model", None) or nn.Linear(4, 2)
    kwargs.setdefault("criterion", nn.CrossEntropyLoss())
    kwargs.setdefault("optimizer", torch.optim.SGD(model.parameters(), lr=lr))
    return System(model, loaders, **kwargs)


class DictDataset(Dataset):
    """Samples as dicts with a string id, as MONAI datasets give them."""

    def __init__(self, base):
        self.base = base

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        x, y = self.base[i]
        return {"image": x, "label": y, "name": f"case{i:02d}"}


def first_line(error: BaseException) -> str:
    return str(error).splitlines()[0]


# --- modes ----------------------------------------------------------------------------------------


def test_fit_decreases_the_loss(dataset, loader, trainer):
    system = make_system({"train": loader(shuffle=True)})
    x, y = dataset.tensors
    before = F.cross_entropy(system.model(x), y).item()
    trainer(max_epochs=5).fit(system)
    assert F.cross_entropy(system.model(x), y).item() < 0.5 * before


def test_fit_logs_the_spec_names(loader, trainer, tmp_path):
    system = make_system(
        {"train": loader(), "val": loader()}, metrics={"train": {"Accuracy": accuracy()}, "val": [accuracy()]}
    )
    trainer(logger=CSVLogger(tmp_path, name="run"), log_every_n_steps=1).fit(system)
    with open(tmp_path / "run" / "version_0" / "metrics.csv") as f:
        columns = set(next(csv.reader(f)))
    assert columns == {
        "epoch",
        "step",
        "train/loss/step",
        "train/loss/epoch",
        "train/metrics/Accuracy/step",
        "train/metrics/Accuracy/epoch",
        "train/optimizer/SGD/lr",
        "train/optimizer/SGD/momentum",
        "val/loss/step",
        "val/loss/epoch",
        "val/metrics/MulticlassAccuracy/step",
        "val/metrics/MulticlassAccuracy/epoch",
    }


def test_optimizer_values_use_the_reference_names_per_group(loader, trainer, tmp_path):
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    groups = [{"params": model[0].parameters(), "lr": 0.01}, {"params": model[1].parameters()}]
    optimizer = torch.optim.Adam(groups, lr=0.02, betas=(0.8, 0.9))
    system = make_system({"train": loader()}, model=model, optimizer=optimizer)
    trainer(logger=CSVLogger(tmp_path, name="run")).fit(system)
    with open(tmp_path / "run" / "version_0" / "metrics.csv") as f:
        (row,) = [r for r in csv.DictReader(f) if r["train/optimizer/Adam/lr/group1"]]
    logged = {k: float(v) for k, v in row.items() if k.startswith("train/optimizer/")}
    assert logged == pytest.approx(
        {
            "train/optimizer/Adam/lr/group1": 0.01,
            "train/optimizer/Adam/beta1/group1": 0.8,
            "train/optimizer/Adam/beta2/group1": 0.9,
            "train/optimizer/Adam/lr/group2": 0.02,
            "train/optimizer/Adam/beta1/group2": 0.8,
            "train/optimizer/Adam/beta2/group2": 0.9,
        }
    )


def test_progress_bar_shows_train_loss_and_val_values(loader, trainer):
    system = make_system({"train": loader(), "val": loader()}, metrics={"val": {"acc": accuracy()}})
    run = trainer(enable_progress_bar=True)
    run.fit(system)
    # Lightning's bar shows exactly these (besides its own v_num): no sublosses, no step metrics.
    assert set(run.progress_bar_metrics) == {"train/loss/step", "val/loss/epoch", "val/metrics/acc/epoch"}
    assert run.progress_bar_metrics["val/loss/epoch"] == pytest.approx(
        run.callback_metrics["val/loss/epoch"].item()
    )


def test_epoch_values_are_means_of_the_epoch(dataset, loader, trainer):
    system = make_system({"val": loader()}, metrics={"val": {"Accuracy": accuracy()}}, optimizer=None)
    (result,) = trainer().validate(system, verbose=False)
    x, y = dataset.tensors
    with torch.no_grad():
        pred = system.model(x)
    losses = [F.cross_entropy(pred[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16)]
    assert result["val/loss/epoch"] == pytest.approx(torch.stack(losses).mean().item(), rel=1e-5)
    assert result["val/metrics/Accuracy/epoch"] == pytest.approx((pred.argmax(1) == y).float().mean().item())


def test_val_without_criterion_logs_metrics_only(loader, trainer):
    system = make_system({"val": loader()}, criterion=None, optimizer=None, metrics={"val": accuracy()})
    (result,) = trainer().validate(system, verbose=False)
    assert set(result) == {"val/metrics/MulticlassAccuracy/epoch"}


def test_test_logs_metrics_and_no_loss(loader, trainer):
    system = make_system({"test": loader()}, optimizer=None, metrics={"test": {"acc": accuracy()}})
    (result,) = trainer().test(system, verbose=False)
    assert set(result) == {"test/metrics/acc/epoch"}


def test_predict_returns_output_dicts(dataset, loader, trainer):
    x, _ = dataset.tensors
    system = make_system(
        {"predict": DataLoader(torch.utils.data.TensorDataset(x), batch_size=16)},
        criterion=None,
        optimizer=None,
        adapters={"predict": {"logging": LoggingAdapter(pred_transforms=lambda p: p.argmax(1))}},
    )
    outputs = trainer().predict(system)
    assert len(outputs) == 4
    assert set(outputs[0]) == {"identifier", "input", "target", "pred", "loss", "metrics", "step", "epoch"}
    assert outputs[0]["pred"].shape == (16,)
    assert torch.equal(outputs[1]["input"], x[16:32])
    assert outputs[0]["identifier"] is None and outputs[0]["loss"] is None


def test_dict_batches_with_identifiers(dataset, trainer):
    loader = DataLoader(DictDataset(dataset), batch_size=16)
    adapter = BatchAdapter("image", "label", "name")
    system = make_system(
        {"train": loader, "predict": loader},
        adapters={"train": {"batch": adapter}, "predict": {"batch": adapter}},
    )
    run = trainer()
    run.fit(system)
    outputs = run.predict(system)
    assert outputs[0]["identifier"] == [f"case{i:02d}" for i in range(16)]
    assert torch.equal(outputs[0]["target"], dataset.tensors[1][:16])


@pytest.mark.parametrize(
    ("criterion", "adapter"),
    [
        pytest.param(
            lambda target, pred: F.cross_entropy(pred, target),
            CriterionAdapter(pred_argument=1, target_argument=0),
            id="swapped-positions",
        ),
        pytest.param(
            lambda *, logits, labels: F.cross_entropy(logits, labels),
            CriterionAdapter(pred_argument="logits", target_argument="labels"),
            id="keywords",
        ),
        pytest.param(
            lambda pred, target: F.nll_loss(pred, target),
            CriterionAdapter(
                pred_argument=0, target_argument=1, pred_transforms=[lambda p: F.log_softmax(p, dim=1)]
            ),
            id="pred-transform",
        ),
    ],
)
def test_criterion_adapters_in_a_fit(criterion, adapter, dataset, loader, trainer):
    system = make_system({"train": loader()}, criterion=criterion, adapters={"train": {"criterion": adapter}})
    x, y = dataset.tensors
    before = F.cross_entropy(system.model(x), y).item()
    trainer(max_epochs=3).fit(system)
    assert F.cross_entropy(system.model(x), y).item() < before


def test_metrics_adapter_with_transforms(loader, trainer):
    adapter = MetricsAdapter(pred_argument=0, target_argument=1, pred_transforms=lambda p: p.argmax(1))
    system = make_system(
        {"val": loader()},
        optimizer=None,
        metrics={"val": {"acc": Accuracy(task="binary")}},
        adapters={"val": {"metrics": adapter}},
    )
    (result,) = trainer().validate(system, verbose=False)
    assert 0.0 <= result["val/metrics/acc/epoch"] <= 1.0


def test_dict_loss_logs_every_entry_and_optimizes_total(loader, trainer):
    def criterion(pred, target):
        ce = F.cross_entropy(pred, target)
        reg = pred.pow(2).mean()
        return {"total": ce + 0.1 * reg, "ce": ce, "reg": reg}

    system = make_system({"train": loader()}, criterion=criterion)
    run = trainer()
    run.fit(system)
    names = set(run.logged_metrics)
    assert {"train/loss/step", "train/loss/ce/step", "train/loss/reg/step"} <= names
    assert {"train/loss/epoch", "train/loss/ce/epoch", "train/loss/reg/epoch"} <= names
    metrics = run.logged_metrics
    total = metrics["train/loss/ce/epoch"] + 0.1 * metrics["train/loss/reg/epoch"]
    assert metrics["train/loss/epoch"].item() == pytest.approx(total.item(), rel=1e-5)


def test_scheduler_dict_steps_every_batch(loader, trainer):
    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    scheduler = {
        "scheduler": torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5),
        "interval": "step",
    }
    system = make_system({"train": loader()}, model=model, optimizer=optimizer, scheduler=scheduler)
    trainer().fit(system)
    assert system.learning_rate == pytest.approx(0.5**4)
    assert "monitor" not in scheduler  # the caller's dict is left alone


def test_plateau_scheduler_monitors_val_loss(loader, trainer):
    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, threshold=10.0)
    system = make_system(
        {"train": loader(), "val": loader()},
        model=model,
        optimizer=optimizer,
        scheduler={"scheduler": plateau, "monitor": "val/loss/epoch"},
    )
    trainer(max_epochs=2).fit(system)
    assert system.learning_rate < 1.0


class PatchRecorder(nn.Module):
    """A 2D segmentation net that records the spatial size of what it is given."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)
        self.sizes: list[tuple[int, int]] = []

    def forward(self, x):
        self.sizes.append(tuple(x.shape[-2:]))
        return self.conv(x)


def test_sliding_window_inferer_in_val_only(trainer):
    from monai.inferers import SlidingWindowInferer

    images = torch.randn(4, 1, 16, 16)
    masks = (images[:, 0] > 0).long()
    loader = DataLoader(torch.utils.data.TensorDataset(images, masks), batch_size=2)
    model = PatchRecorder()
    system = make_system(
        {"train": loader, "val": loader},
        model=model,
        inferer=SlidingWindowInferer(roi_size=(8, 8), sw_batch_size=4),
    )
    trainer(num_sanity_val_steps=0).fit(system)
    assert set(model.sizes) == {(16, 16), (8, 8)}
    assert model.sizes[:2] == [(16, 16), (16, 16)]  # train first, then val on patches


class EpochAware(nn.Linear):
    def __init__(self):
        super().__init__(4, 2)
        self.seen: list[tuple[int, int]] = []

    def forward(self, x, epoch, step):
        self.seen.append((epoch, step))
        return super().forward(x)


def test_epoch_and_step_reach_forward(loader, trainer):
    model = EpochAware()
    system = make_system({"train": loader()}, model=model)
    trainer(max_epochs=2).fit(system)
    assert model.seen == [(e, 4 * e + s) for e in range(2) for s in range(4)]


# --- tuning ---------------------------------------------------------------------------------------


def test_lr_find_sets_the_learning_rate(loader, trainer):
    system = make_system({"train": loader(batch_size=2, shuffle=True)}, lr=0.01)
    finder = Tuner(trainer()).lr_find(
        system, min_lr=1e-4, max_lr=1.0, num_training=30, early_stop_threshold=None
    )
    assert len(finder.results["lr"]) == 30
    assert finder.suggestion() is not None
    assert system.learning_rate == pytest.approx(finder.suggestion())


def test_scale_batch_size_rebuilds_the_loaders(dataset, trainer):
    collate = torch.utils.data.default_collate
    train = DataLoader(dataset, batch_size=4, shuffle=True, collate_fn=collate, drop_last=True)
    system = make_system({"train": train, "val": DataLoader(dataset, batch_size=4)})
    found = Tuner(trainer()).scale_batch_size(
        system, mode="power", init_val=8, max_trials=2, steps_per_trial=1
    )
    assert found == system.batch_size == 16
    rebuilt = system.train_dataloader()
    assert isinstance(rebuilt.sampler, RandomSampler)
    assert rebuilt.collate_fn is collate and rebuilt.drop_last
    assert system.val_dataloader().batch_size == 16


def test_test_restores_a_checkpoint_without_the_criterion(loader, trainer, tmp_path):
    weighted = nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0]))
    system = make_system({"train": loader()}, criterion=weighted)
    fit = trainer()
    fit.fit(system)
    fit.save_checkpoint(tmp_path / "last.ckpt")
    fresh = System(nn.Linear(4, 2), {"test": loader()}, metrics={"test": accuracy()})
    trainer().test(fresh, ckpt_path=tmp_path / "last.ckpt", verbose=False)
    assert torch.equal(fresh.model.weight, system.model.weight)


def test_system_saves_no_hyperparameters(loader):
    assert dict(make_system({"train": loader()}).hparams) == {}


# --- hooks and errors -----------------------------------------------------------------------------


def test_fit_without_val_neither_validates_nor_warns(loader, trainer, tmp_path):
    system = make_system({"train": loader()})
    assert not is_overridden("validation_step", system) and not is_overridden("val_dataloader", system)
    # A prediction writer inspects predict_step at setup, in every stage: it must find a method.
    writer = TableWriter(tmp_path / "rows.csv", "tensor")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = trainer(callbacks=[writer])
        run.fit(system)
    assert not [w for w in caught if "val" in str(w.message).lower()]
    assert not any(name.startswith("val/") for name in run.logged_metrics)
    assert run.global_step == 4 and not (tmp_path / "rows.csv").exists()


@pytest.mark.parametrize(
    ("stage", "modes"),
    [("fit", ("train", "val")), ("validate", ("val",)), ("test", ("test",)), ("predict", ("predict",))],
)
def test_writers_in_every_stage_write_only_in_predict(stage, modes, dataset, loader, trainer, tmp_path):
    """Writers in the callbacks of every stage, and the dataloaders the runner keeps for each stage."""
    system = make_system({mode: loader() for mode in modes})  # (x, y) batches, in predict too
    writers = [FileWriter(tmp_path / "files", "tensor"), TableWriter(tmp_path / "rows.csv", "tensor")]
    getattr(trainer(callbacks=writers), stage)(system)
    written = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    if stage != "predict":
        assert written == []
        return
    assert len(written) == 64 + 1  # one file per sample, and the table
    x, _ = dataset.tensors
    first = torch.load(tmp_path / "files" / "0.pt", weights_only=True)
    assert torch.allclose(first, system.model(x[:1])[0])  # the model saw the input alone


def test_hooks_of_modes_without_a_dataloader_are_lightnings_defaults(loader):
    system = make_system({"train": loader()})
    for hook in ("validation_step", "test_step", "predict_step", "val_dataloader", "predict_dataloader"):
        assert getattr(system, hook).__func__ is getattr(pl.LightningModule, hook), hook
    assert is_overridden("training_step", system) and is_overridden("train_dataloader", system)
    # nothing is stored on the instance: a System pickles, as ddp_spawn and spawned workers need
    assert isinstance(pickle.loads(pickle.dumps(system)), System)


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        pytest.param(
            "validate", "@ system#dataloaders#val: the validate stage needs a val dataloader", id="validate"
        ),
        pytest.param("test", "@ system#dataloaders#test: the test stage needs a test dataloader", id="test"),
        pytest.param(
            "predict",
            "@ system#dataloaders#predict: the predict stage needs a predict dataloader",
            id="predict",
        ),
    ],
)
def test_stage_without_its_dataloader(stage, expected, loader, trainer):
    system = make_system({"train": loader()})
    with pytest.raises(StageError) as info:
        getattr(trainer(), stage)(system)
    assert first_line(info.value) == f"{expected}, but the System has none (it has: train)"


def test_fit_without_train_dataloader(loader, trainer):
    with pytest.raises(StageError) as info:
        trainer().fit(make_system({"val": loader()}, optimizer=None))
    assert first_line(info.value) == (
        "@ system#dataloaders#train: the fit stage needs a train dataloader, but the System has none (it has: val)"
    )


def _loaders(loader):
    return {"train": loader()}


@pytest.mark.parametrize(
    ("kwargs", "error", "expected"),
    [
        pytest.param(
            {"optimizer": None},
            StageError,
            "@ system#optimizer: a train dataloader needs an optimizer",
            id="no-optimizer",
        ),
        pytest.param(
            {"criterion": None},
            StageError,
            "@ system#criterion: a train dataloader needs a criterion",
            id="no-criterion",
        ),
        pytest.param(
            {"dataloaders": {"valid": None}},
            SystemError_,
            "@ system#dataloaders#valid: unknown key 'valid' (expected one of: train, val, test, predict) "
            "(did you mean 'val'?)",
            id="unknown-dataloader",
        ),
        pytest.param(
            {"dataloaders": {"train": "DATASET"}},
            SystemError_,
            "@ system#dataloaders#train: expected a torch.utils.data.DataLoader (got str)",
            id="not-a-dataloader",
        ),
        pytest.param(
            {"metrics": {"tset": None}},
            SystemError_,
            "@ system#metrics#tset: unknown key 'tset' (expected one of: train, val, test) (did you mean 'test'?)",
            id="unknown-metrics-mode",
        ),
        pytest.param(
            {"metrics": {"val": ["accuracy"]}},
            SystemError_,
            "@ system#metrics#val: expected a torchmetrics Metric, a list or a dict of them (got str)",
            id="not-a-metric",
        ),
        pytest.param(
            {"adapters": {"training": {}}},
            SystemError_,
            "@ system#adapters#training: unknown key 'training' (expected one of: train, val, test, predict) "
            "(did you mean 'train'?)",
            id="unknown-adapter-mode",
        ),
        pytest.param(
            {"adapters": {"val": {"criterions": None}}},
            SystemError_,
            "@ system#adapters#val#criterions: unknown key 'criterions' (expected one of: batch, criterion, "
            "metrics, logging) (did you mean 'criterion'?)",
            id="unknown-adapter-kind",
        ),
        pytest.param(
            {"adapters": {"train": {"batch": 0}}},
            AdapterError,
            "@ system#adapters#train#batch: expected a batch adapter (got int)",
            id="adapter-not-callable",
        ),
        pytest.param(
            {"scheduler": {"scheduler": None, "intervall": "step"}},
            SystemError_,
            "@ system#scheduler#intervall: unknown key 'intervall' (expected one of: scheduler, interval, "
            "frequency, monitor, strict, name) (did you mean 'interval'?)",
            id="unknown-scheduler-key",
        ),
        pytest.param(
            {"model": "resnet"},
            SystemError_,
            "@ system#model: model must be a torch.nn.Module (got str)",
            id="model-not-a-module",
        ),
    ],
)
def test_construction_errors(kwargs, error, expected, loader):
    model = nn.Linear(4, 2)
    arguments = {
        "model": model,
        "dataloaders": {"train": loader()},
        "optimizer": torch.optim.SGD(model.parameters(), lr=0.1),
        "criterion": nn.CrossEntropyLoss(),
        **kwargs,
    }
    with pytest.raises(error) as info:
        System(**arguments)
    assert first_line(info.value) == expected


def test_plateau_scheduler_without_monitor(loader):
    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(SystemError_) as info:
        make_system(
            {"train": loader()},
            model=model,
            optimizer=optimizer,
            scheduler=torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer),
        )
    assert first_line(info.value) == (
        "@ system#scheduler: ReduceLROnPlateau needs a metric to monitor (give {scheduler: ..., monitor: "
        "val/loss/epoch})"
    )


def test_every_construction_problem_is_reported_at_once(loader):
    with pytest.raises(ValidationError) as info:
        System(nn.Linear(4, 2), {"train": loader(), "tst": None})
    assert str(info.value).splitlines() == [
        "@ system#dataloaders#tst: unknown key 'tst' (expected one of: train, val, test, predict) "
        "(did you mean 'test'?)",
        "@ system#optimizer: a train dataloader needs an optimizer",
        "@ system#criterion: a train dataloader needs a criterion",
        "(3 problems in the config)",
    ]


@pytest.mark.parametrize(
    ("mode", "adapters", "expected"),
    [
        pytest.param(
            "val",
            None,
            "@ system#adapters#val#batch: the default batch adapter expects an (input, target) list or tuple, but "
            "the batch is a dict with keys ['image', 'label', 'name'] (set a BatchAdapter, e.g. "
            "BatchAdapter(input_accessor='image', target_accessor='label'))",
            id="default-adapter-on-dicts",
        ),
        pytest.param(
            "train",
            {"train": {"batch": BatchAdapter("imge", "label")}},
            "@ system#adapters#train#batch: BatchAdapter: input_accessor 'imge' does not fit the batch, which is a "
            "dict with keys ['image', 'label', 'name'] (did you mean 'image'?)",
            id="misspelt-key",
        ),
    ],
)
def test_adapter_errors_name_the_mode(mode, adapters, expected, dataset, trainer):
    loader = DataLoader(DictDataset(dataset), batch_size=16)
    system = make_system({mode: loader}, adapters=adapters)
    with pytest.raises(AdapterError) as info:
        (trainer().fit if mode == "train" else trainer().validate)(system)
    assert first_line(info.value) == expected


def test_batch_adapter_error_names_the_test_mode(loader, trainer):
    system = make_system({"test": loader()}, optimizer=None, adapters={"test": {"batch": BatchAdapter(0, 5)}})
    with pytest.raises(AdapterError) as info:
        trainer().test(system, verbose=False)
    assert first_line(info.value) == (
        "@ system#adapters#test#batch: BatchAdapter: target_accessor 5 does not fit the batch, which is a list of "
        "length 2"
    )


def test_dict_loss_without_total(loader, trainer):
    system = make_system({"train": loader()}, criterion=lambda p, t: {"a": p.sum(), "b": p.mean()})
    with pytest.raises(SystemError_) as info:
        trainer().fit(system)
    assert first_line(info.value) == (
        "@ system#criterion: the criterion returned a dict without a 'total' key (keys: a, b) "
        "(add 'total', the loss to optimize)"
    )


def test_errors_are_lighter_errors():
    assert issubclass(AdapterError, LighterError) and issubclass(StageError, LighterError)
