"""System: one thin LightningModule shared by every task.

A :class:`System` binds a model to its criterion, optimizer, scheduler, metrics, dataloaders,
adapters and inferer, and runs one step for train/val/test/predict::

    batch -> batch adapter -> (input, target, identifier)
          -> forward (inferer in val/test/predict; `epoch`/`step` keywords when the model takes them)
          -> criterion adapter (train, val) -> metrics adapter (train, val, test)
          -> log -> logging adapter -> {identifier, input, target, pred, loss, metrics, step, epoch}

The mode is the Lightning hook that runs (``training_step`` is train), never mutable state.

Logging is kept to one ``self.log`` call per quantity per step (on Lightning's small-model path each
call costs more than the model itself): ``<mode>/loss/step`` and ``<mode>/metrics/<name>/step`` each
step, then once per epoch ``<mode>/loss/epoch`` (the mean of the step losses, kept as a tensor sum so
no step waits on the device), ``<mode>/metrics/<name>/epoch`` (the metric's own ``compute()``, synced
in DDP by torchmetrics) and, in train, ``train/optimizer/<OptimizerClass>/lr`` (plus momentum/betas
when the optimizer has them; the reference system's names). The progress bar shows the train loss of
each step and, after each validation, val's epoch loss and metrics: the same ``self.log`` calls with
``prog_bar=True``, so the bar costs no extra call.
Metric names are the dict keys given, or the class names for a single metric or a list
(``MulticlassAccuracy``). A dict loss logs every entry as ``<mode>/loss/<key>/…`` and optimizes
``total`` (the output dict's ``loss`` is that total). Without a criterion, val computes metrics only;
test never computes a loss.

Hooks exist only for modes with a dataloader: for the others, ``*_step``/``*_dataloader`` read as
LightningModule's own defaults, which Lightning's ``is_overridden`` takes for "not defined" (so no
val loop runs without a val dataloader), while any callback that inspects a hook (a prediction
writer's ``setup`` in fit) still finds a real method, never ``None``. Dataloaders come from the
System, or from the config's ``data`` (a LightningDataModule the runner passes as ``datamodule=``):
the runner then calls :meth:`System.use_datamodule` with the modes it provides, and the System
defines the step hooks of those modes (its ``*_dataloader`` hooks stay Lightning's defaults; the
DataModule's are used). A stage whose dataloader is missing fails with a :class:`StageError` from
``configure_callbacks``, the first hook a Trainer calls.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler
from torch.utils.data import DataLoader

from lighter._system.arguments import MODES, ModeAdapters, parse_adapters, parse_metrics, parse_scheduler
from lighter._system.dataloaders import parse_dataloaders, with_batch_size
from lighter._system.log_names import LogNames, optimizer_values
from lighter.adapters import default_batch_adapter
from lighter.errors import AdapterError, LighterError, StageError, SystemError_, ValidationError, blame

__all__ = ["System"]

# Which dataloader each Trainer entry point needs (lr_find and scale_batch_size run `fit`).
_STAGE_MODE = {"fit": "train", "validate": "val", "test": "test", "predict": "predict"}


class _ModeHook:
    """A Lightning hook that exists only when the System has a dataloader for its mode.

    Read from a System without that dataloader, it gives LightningModule's own default method:
    Lightning's ``is_overridden`` compares code objects and so sees the hook as absent (no loop
    runs, nothing warns), and a callback that inspects the hook gets a real method. Nothing is
    stored on the instance, so a System still pickles (``ddp_spawn``, spawned workers).
    """

    def __init__(self, mode: str, function: Any, datamodule: bool) -> None:
        self.mode = mode
        self.function = function
        self.datamodule = datamodule  # also defined for a mode the DataModule provides
        self.__doc__ = function.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self.function
        state = instance.__dict__
        if (
            self.mode in state.get("_loaders", ())
            or self.datamodule
            and self.mode in state.get("_data_modes", ())
        ):
            return self.function.__get__(instance, owner)
        return getattr(pl.LightningModule, self.name).__get__(instance, owner)


def _mode_hook(mode: str, datamodule: bool = True) -> Any:
    """Declare the decorated method a hook of ``mode`` (see :class:`_ModeHook`).

    ``datamodule``: the hook also exists when a DataModule provides the mode's data (the steps do;
    the System's own ``*_dataloader`` hooks do not).
    """
    return lambda function: _ModeHook(mode, function, datamodule)


class System(pl.LightningModule):
    """A LightningModule built from parts, as a config describes them.

    The annotations are precise: the config engine checks every argument against them before the
    System is built (``system#scheduler: 5`` is reported at its line, before any data is loaded).

    Args:
        model: The network.
        dataloaders: ``{"train"|"val"|"test"|"predict": DataLoader}``; only modes given here get hooks.
            ``None`` (none of its own) when the config's ``data`` provides them.
        optimizer: Needed when there is a train dataloader.
        scheduler: A scheduler, or a Lightning scheduler dict (``scheduler``, ``interval``, ``monitor``, …).
        criterion: Needed for train; optional for val (without it val computes metrics only).
        metrics: ``{"train"|"val"|"test": Metric | list | dict}``.
        adapters: ``{mode: {"batch"|"criterion"|"metrics"|"logging": adapter}}``; missing ones use defaults.
        inferer: Called as ``inferer(input, model)`` in val/test/predict (e.g. MONAI's ``SlidingWindowInferer``).

    Raises:
        LighterError: Unknown keys, wrong types, or a missing part a given mode needs (all reported at once).
    """

    def __init__(
        self,
        model: nn.Module,
        dataloaders: Mapping[str, DataLoader | None] | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        scheduler: LRScheduler | Mapping[str, Any] | None = None,
        criterion: Callable[..., Any] | None = None,
        # What a mode's metrics may be is checked below, entry by entry, with a message that says
        # which forms work; the annotation checks only the outer mapping.
        metrics: Mapping[str, Any] | None = None,
        adapters: Mapping[str, Mapping[str, Any] | None] | None = None,
        inferer: Callable[..., Any] | None = None,
    ) -> None:
        super().__init__()
        problems: list[LighterError] = []
        if not isinstance(model, nn.Module):
            problems.append(
                SystemError_(
                    f"model must be a torch.nn.Module (got {type(model).__name__})", id="system#model"
                )
            )
        loaders = parse_dataloaders({} if dataloaders is None else dataloaders, problems)
        if "train" in loaders and optimizer is None:
            problems.append(StageError("a train dataloader needs an optimizer", id="system#optimizer"))
        if "train" in loaders and criterion is None:
            problems.append(StageError("a train dataloader needs a criterion", id="system#criterion"))
        if criterion is not None and not callable(criterion):
            problems.append(SystemError_("criterion must be callable", id="system#criterion"))
        scheduler = parse_scheduler(scheduler, optimizer, problems)
        collections = parse_metrics(metrics, problems)
        mode_adapters = parse_adapters(adapters, problems)
        if problems:
            raise problems[0] if len(problems) == 1 else ValidationError(problems)

        self.model = model
        self.criterion = criterion
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.inferer = inferer
        self._loaders = loaders
        self._data_modes: frozenset[str] = frozenset()  # modes a DataModule provides (use_datamodule)
        # Registered as submodules so they follow the device and sync in DDP; not persistent state.
        self.train_metrics = collections.get("train")
        self.val_metrics = collections.get("val")
        self.test_metrics = collections.get("test")
        self._metrics = collections
        self._adapters = {mode: mode_adapters.get(mode, ModeAdapters()) for mode in MODES}
        self._batch = {mode: self._adapters[mode].batch or default_batch_adapter(mode) for mode in MODES}
        # Inspect the model's signature once here, not once per step.
        params = inspect.signature(model.forward).parameters
        self._pass_epoch = "epoch" in params
        self._pass_step = "step" in params
        self._names = {mode: LogNames(mode) for mode in MODES}
        # Collections built here (no prefixes, no compute groups) are called metric by metric with the
        # default adapter: the same forward as the collection's, without its per-step signature checks.
        self._direct_metrics = {
            mode: list(c.items(keep_base=True, copy_state=False))
            for mode, c in collections.items()
            if c is not metrics.get(mode)
        }
        self._loss_sums: dict[str, dict[str, torch.Tensor]] = {}
        self._loss_counts: dict[str, int] = {}

    # --- the step ------------------------------------------------------------------------------

    def forward(self, inputs: Any, **kwargs: Any) -> Any:
        """Run the model on ``inputs`` (``kwargs`` go to ``model.forward``)."""
        return self.model(inputs, **kwargs)

    def _step(self, batch: Any, mode: str) -> dict[str, Any]:
        adapters = self._adapters[mode]
        try:
            inputs, target, identifier = self._batch[mode](batch)
        except AdapterError as e:
            raise _with_id(e, f"system#adapters#{mode}#batch") from e
        except Exception as e:
            blame(e, f"system#adapters#{mode}#batch")
            raise
        trainer = self._trainer
        epoch = trainer.current_epoch if trainer is not None else 0
        step = trainer.global_step if trainer is not None else 0
        kwargs = {}
        if self._pass_epoch:
            kwargs["epoch"] = epoch
        if self._pass_step:
            kwargs["step"] = step
        try:
            if self.inferer is not None and mode != "train":
                pred = self.inferer(inputs, self.model, **kwargs)
            else:
                pred = self.model(inputs, **kwargs)
        except Exception as e:  # the runner names the part that raised at the end of the traceback
            blame(e, "system#inferer" if self.inferer is not None and mode != "train" else "system#model")
            raise

        names = self._names[mode]
        loss = None
        if self.criterion is not None and (mode == "train" or mode == "val"):
            loss = self._loss(adapters, inputs, target, pred, mode, names)

        metrics = None
        collection = self._metrics.get(mode)
        if collection is not None:
            adapter = adapters.metrics
            direct = self._direct_metrics.get(mode)
            if adapter is None and direct is not None:
                metrics = {}
                for key, metric in direct:
                    try:
                        value = metric(pred, target)
                    except Exception as e:
                        blame(e, f"system#metrics#{mode}")
                        raise
                    if isinstance(value, dict):  # flattened as MetricCollection does
                        metrics.update(value)
                    else:
                        metrics[key] = value
            else:
                try:
                    metrics = (
                        collection(pred, target)
                        if adapter is None
                        else adapter(collection, inputs, target, pred)
                    )
                except AdapterError as e:
                    raise _with_id(e, f"system#adapters#{mode}#metrics") from e
                except Exception as e:
                    blame(e, f"system#metrics#{mode}")
                    raise
            for key, value in metrics.items():
                self.log(names.name("metrics", key, "step"), value, on_step=True, on_epoch=False)

        if adapters.logging is not None:
            inputs, target, pred = adapters.logging(inputs, target, pred)
        return {
            "identifier": identifier,
            "input": inputs,
            "target": target,
            "pred": pred,
            "loss": loss,
            "metrics": metrics,
            "step": step,
            "epoch": epoch,
        }

    def _loss(
        self, adapters: ModeAdapters, inputs: Any, target: Any, pred: Any, mode: str, names: LogNames
    ) -> Any:
        adapter = adapters.criterion
        try:
            loss = (
                self.criterion(pred, target)
                if adapter is None
                else adapter(self.criterion, inputs, target, pred)
            )
        except AdapterError as e:
            raise _with_id(e, f"system#adapters#{mode}#criterion") from e
        except Exception as e:
            blame(e, "system#criterion")
            raise
        sums = self._loss_sums.get(mode)
        if isinstance(loss, dict):
            if "total" not in loss:
                raise SystemError_(
                    f"the criterion returned a dict without a 'total' key (keys: {', '.join(map(str, loss))})",
                    id="system#criterion",
                    suggestion="add 'total', the loss to optimize",
                )
            parts = {k: v.detach() for k, v in loss.items()}
            for key, value in parts.items():
                self.log(
                    names.name("loss", key, "step"),
                    value,
                    on_step=True,
                    on_epoch=False,
                    prog_bar=names.bar_step and key == "total",
                )
            loss = loss["total"]
        else:
            parts = {"total": loss.detach()}
            self.log(names.loss_step, parts["total"], on_step=True, on_epoch=False, prog_bar=names.bar_step)
        # A running tensor sum: no `.item()`, so the step never waits for the device.
        if sums is None:
            self._loss_sums[mode] = {k: v.clone() for k, v in parts.items()}
            self._loss_counts[mode] = 1
        else:
            for key, value in parts.items():
                sums[key] += value
            self._loss_counts[mode] += 1
        return loss

    # --- Lightning hooks (LightningModule's defaults for modes without a dataloader) ------------

    @_mode_hook("train")
    def training_step(self, batch: Any, batch_idx: int) -> dict[str, Any]:
        return self._step(batch, "train")

    @_mode_hook("val")
    def validation_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> dict[str, Any]:
        return self._step(batch, "val")

    @_mode_hook("test")
    def test_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> dict[str, Any]:
        return self._step(batch, "test")

    @_mode_hook("predict")
    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> dict[str, Any]:
        return self._step(batch, "predict")

    @_mode_hook("train", datamodule=False)
    def train_dataloader(self) -> DataLoader:
        return self._loaders["train"]

    @_mode_hook("val", datamodule=False)
    def val_dataloader(self) -> DataLoader:
        return self._loaders["val"]

    @_mode_hook("test", datamodule=False)
    def test_dataloader(self) -> DataLoader:
        return self._loaders["test"]

    @_mode_hook("predict", datamodule=False)
    def predict_dataloader(self) -> DataLoader:
        return self._loaders["predict"]

    def use_datamodule(self, modes: Iterable[str]) -> None:
        """Define the step hooks of ``modes``, whose data the stage's DataModule (``data``) provides.

        The runner calls it before each stage with the stage's modes that the DataModule's class
        defines a ``*_dataloader`` for; ``()`` goes back to the System's own dataloaders only.
        """
        self._data_modes = frozenset(modes)

    def configure_callbacks(self) -> list[pl.Callback]:
        """Check, before the Trainer sets anything up, that the running stage has its dataloader."""
        fn = self.trainer.state.fn
        mode = _STAGE_MODE.get(getattr(fn, "value", str(fn)))
        if mode is not None and mode not in self._loaders and mode not in self._data_modes:
            have = ", ".join(sorted({*self._loaders, *self._data_modes})) or "none"
            if self.trainer.datamodule is not None:
                raise StageError(
                    f"the {fn.value} stage needs a {mode} dataloader, but neither the System nor data "
                    f"({type(self.trainer.datamodule).__qualname__}) has one (they have: {have})",
                    id="data",
                )
            raise StageError(
                f"the {fn.value} stage needs a {mode} dataloader, but the System has none (it has: {have})",
                id=f"system#dataloaders#{mode}",
            )
        return []

    def configure_optimizers(self) -> Any:
        if self.scheduler is None:
            return self.optimizer
        return {"optimizer": self.optimizer, "lr_scheduler": self.scheduler}

    @classmethod
    def load_from_checkpoint(  # type: ignore[override]
        cls,
        checkpoint_path: Any,
        map_location: Any = None,
        hparams_file: Any = None,
        strict: bool | None = None,
    ) -> System:
        """Rebuild the System from the config the checkpoint carries and load its weights.

        Lightning's version calls ``System(**hyper_parameters)``, but a lighter checkpoint's
        hyperparameters are the whole experiment config; :func:`lighter.load_checkpoint` builds the
        ``system`` part of it (model, adapters, inferer; no data) instead.
        """
        from lighter._system.checkpoint_hook import loader

        load_checkpoint = loader()  # lighter.load_checkpoint (see checkpoint_hook)
        if hparams_file is not None:
            raise TypeError(
                "System.load_from_checkpoint takes its config from the checkpoint, not hparams_file"
            )
        system = load_checkpoint(
            checkpoint_path,
            map_location="cpu" if map_location is None else map_location,
            strict=strict is not False,
        )
        if not isinstance(system, cls):
            raise StageError(
                f"'{checkpoint_path}' holds a {type(system).__qualname__}, not a {cls.__qualname__}",
                id="system#_target_",
            )
        return system

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Take criterion state (e.g. class weights) from this System's config, not from the checkpoint.

        A test run usually builds no criterion, and a resumed run may change its weights: either way
        the checkpoint's ``criterion.*`` entries must not make strict loading fail.
        """
        state = checkpoint.get("state_dict")
        if state is None:
            return
        for key in [k for k in state if k.startswith("criterion.")]:
            del state[key]
        if isinstance(self.criterion, nn.Module):
            state.update({f"criterion.{k}": v for k, v in self.criterion.state_dict().items()})

    def on_train_epoch_start(self) -> None:
        self._start_epoch("train")
        for name, value in optimizer_values(self.trainer.optimizers):
            self._log_epoch_value(name, value)

    def on_validation_epoch_start(self) -> None:
        self._start_epoch("val")

    def on_test_epoch_start(self) -> None:
        self._start_epoch("test")

    def _start_epoch(self, mode: str) -> None:
        # An epoch cut short (max_steps, lr_find, an exception) never reached its epoch end: drop its leftovers.
        self._loss_sums.pop(mode, None)
        self._loss_counts.pop(mode, None)
        collection = self._metrics.get(mode)
        if collection is not None:
            collection.reset()

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def _log_epoch(self, mode: str) -> None:
        names = self._names[mode]
        sums = self._loss_sums.pop(mode, None)
        if sums is not None:
            count = self._loss_counts.pop(mode)
            for key, value in sums.items():
                bar = names.bar_epoch and key == "total"
                self._log_epoch_value(names.name("loss", key, "epoch"), value / count, bar)
        collection = self._metrics.get(mode)
        if collection is not None and any(m.update_called for m in collection.values(copy_state=False)):
            for key, value in collection.compute().items():
                self._log_epoch_value(names.name("metrics", key, "epoch"), value, names.bar_epoch)
            collection.reset()

    def _log_epoch_value(self, name: str, value: Any, prog_bar: bool = False) -> None:
        # Once per epoch, so syncing is cheap: it averages the loss over ranks, and is a no-op on values
        # torchmetrics already synced (which keeps Lightning from warning about them in DDP).
        self.log(name, value, on_step=False, on_epoch=True, sync_dist=True, batch_size=1, prog_bar=prog_bar)

    # --- tuning --------------------------------------------------------------------------------

    @property
    def learning_rate(self) -> float:
        """The first parameter group's learning rate (read and written by ``Tuner.lr_find``)."""
        return self._require_optimizer().param_groups[0]["lr"]

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        for group in self._require_optimizer().param_groups:
            group["lr"] = value

    def _require_optimizer(self) -> torch.optim.Optimizer:
        if self.optimizer is None:
            raise StageError("learning_rate needs an optimizer", id="system#optimizer")
        return self.optimizer

    @property
    def batch_size(self) -> int:
        """The train dataloader's batch size; setting it rebuilds the train and val dataloaders.

        With a DataModule providing the train data there is none: ``scale_batch_size`` then finds
        the DataModule's own ``batch_size`` (Lightning looks there when the module has none).
        """
        if "train" not in self._loaders:
            if "train" in self._data_modes:
                raise AttributeError("batch_size: the train data comes from the DataModule (data)")
            raise StageError("batch_size needs a train dataloader", id="system#dataloaders#train")
        return self._loaders["train"].batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        if "train" not in self._loaders:
            raise StageError("batch_size needs a train dataloader", id="system#dataloaders#train")
        self._loaders = with_batch_size(self._loaders, value)


def _with_id(error: AdapterError, config_id: str) -> AdapterError:
    """The same adapter error, now naming the adapter's config id (mode included)."""
    return type(error)(
        error.message,
        id=error.id or config_id,
        location=error.location,
        suggestion=error.suggestion,
        details=error.details,
    )
