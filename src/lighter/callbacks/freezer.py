"""``Freezer``: keep chosen parameters of the model fixed, optionally for the first steps or epochs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pytorch_lightning.callbacks import Callback

from lighter.errors import LighterError, did_you_mean

__all__ = ["Freezer"]

_PREFIX = "model."  # names may be written as the System sees them (``model.encoder.weight``)


def _names(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _forms(name: str) -> tuple[str, str]:
    return name, _PREFIX + name


class Freezer(Callback):
    """Freeze parameters of the System's model (``pl_module.model``), optionally only at the start.

    A parameter is frozen when it is selected by ``names`` / ``name_starts_with`` (or, when only
    ``except_*`` are given, by default) and not excluded by ``except_names`` /
    ``except_name_starts_with``. Names are those of ``model.named_parameters()``; each may also be
    written with a leading ``model.`` as the System names them. Parameters the user had already
    frozen are left alone and stay frozen when the Freezer unfreezes its own.

    Frozen parameters get ``requires_grad = False`` and their ``.grad`` cleared, so they receive no
    gradient and every torch optimizer skips them, weight decay and momentum included.

    Args:
        names: Exact parameter names to freeze.
        name_starts_with: Prefixes; every parameter whose name starts with one is frozen.
        except_names: Exact names never frozen.
        except_name_starts_with: Prefixes never frozen.
        until_step: Frozen while ``trainer.global_step < until_step`` (optimizer steps).
        until_epoch: Frozen while ``trainer.current_epoch < until_epoch``.

    Without a limit the parameters stay frozen for the whole run. In DDP, unfreezing needs a
    strategy that tolerates parameters without gradients (``ddp_find_unused_parameters_true``).

    Raises:
        LighterError: No selector, both limits, a negative limit (at construction), or a name or
            prefix that matches no parameter (at ``setup``, with the closest parameter name).
    """

    def __init__(
        self,
        names: str | list[str] | None = None,
        name_starts_with: str | list[str] | None = None,
        except_names: str | list[str] | None = None,
        except_name_starts_with: str | list[str] | None = None,
        until_step: int | None = None,
        until_epoch: int | None = None,
    ) -> None:
        self.names = _names(names)
        self.name_starts_with = _names(name_starts_with)
        self.except_names = _names(except_names)
        self.except_name_starts_with = _names(except_name_starts_with)
        if not (self.names or self.name_starts_with or self.except_names or self.except_name_starts_with):
            raise LighterError(
                "Freezer needs at least one of names, name_starts_with, except_names, except_name_starts_with"
            )
        if until_step is not None and until_epoch is not None:
            raise LighterError("Freezer takes until_step or until_epoch, not both")
        for label, limit in (("until_step", until_step), ("until_epoch", until_epoch)):
            if limit is not None and (not isinstance(limit, int) or limit < 0):
                raise LighterError(f"Freezer's {label} must be a non-negative integer, got {limit!r}")
        self.until_step = until_step
        self.until_epoch = until_epoch
        self._frozen: list[Any] = []  # the parameters this callback froze (to unfreeze exactly those)

    @staticmethod
    def _model(pl_module: Any) -> Any:
        return getattr(pl_module, "model", pl_module)

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        names = [name for name, _ in self._model(pl_module).named_parameters()]
        known = set(names)
        for label, wanted in (("names", self.names), ("except_names", self.except_names)):
            for name in wanted:
                if name not in known and not (name.startswith(_PREFIX) and name[len(_PREFIX) :] in known):
                    raise LighterError(
                        f"Freezer's {label} has '{name}', which is no parameter of the model",
                        suggestion=did_you_mean(name.removeprefix(_PREFIX), names),
                    )
        prefixes = {name[: i + 1] for name in names for i, char in enumerate(name) if char == "."}
        for label, wanted in (
            ("name_starts_with", self.name_starts_with),
            ("except_name_starts_with", self.except_name_starts_with),
        ):
            for prefix in wanted:
                if not any(form.startswith(prefix) for name in names for form in _forms(name)):
                    raise LighterError(
                        f"Freezer's {label} has '{prefix}', which starts no parameter name of the model",
                        suggestion=did_you_mean(prefix, sorted(prefixes)),
                    )

    def _selected(self, name: str) -> bool:
        forms = _forms(name)
        if any(form in self.except_names for form in forms):
            return False
        if any(form.startswith(p) for form in forms for p in self.except_name_starts_with):
            return False
        if not (self.names or self.name_starts_with):  # only exceptions given: freeze everything else
            return True
        return any(form in self.names for form in forms) or any(
            form.startswith(p) for form in forms for p in self.name_starts_with
        )

    def _limit_reached(self, trainer: Any) -> bool:
        if self.until_step is not None:
            return trainer.global_step >= self.until_step
        if self.until_epoch is not None:
            return trainer.current_epoch >= self.until_epoch
        return False

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        if self._limit_reached(trainer):  # e.g. resumed from a checkpoint past the limit
            return
        for name, param in self._model(pl_module).named_parameters():
            if param.requires_grad and self._selected(name):
                param.requires_grad_(False)
                param.grad = None  # no stale gradient for the optimizer to apply
                self._frozen.append(param)

    def _maybe_unfreeze(self, trainer: Any) -> None:
        if self._frozen and self._limit_reached(trainer):
            for param in self._frozen:
                param.requires_grad_(True)
            self._frozen = []

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self._maybe_unfreeze(trainer)

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        self._maybe_unfreeze(trainer)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        # leave the model as it was given (a later stage in the same process must not find it frozen)
        for param in self._frozen:
            param.requires_grad_(True)
        self._frozen = []
