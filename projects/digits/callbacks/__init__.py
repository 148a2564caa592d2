"""Callbacks of the digits project."""

from __future__ import annotations

import pytorch_lightning as pl

__all__ = ["PrintMetrics"]


class PrintMetrics(pl.Callback):
    """Print one line of val metrics after every validation run of a ``fit``.

    Lightning prints a table after ``validate`` and ``test`` but nothing after a ``fit``; this line
    makes the demo's progress readable in a plain terminal or a CI log.

    Args:
        prefixes: Only metrics whose logged name starts with one of these are printed.
    """

    def __init__(self, prefixes: tuple[str, ...] = ("val/",)) -> None:
        self.prefixes = tuple(prefixes)

    def _print(self, trainer: pl.Trainer, title: str) -> None:
        values = {
            name: float(value)
            for name, value in sorted(trainer.callback_metrics.items())
            if name.startswith(self.prefixes) and name.endswith("/epoch")
        }
        if trainer.is_global_zero and values:
            text = "  ".join(f"{name} {value:.4f}" for name, value in values.items())
            print(f"{title}: {text}", flush=True)

    # `on_validation_end`, not `on_validation_epoch_end`: callbacks' epoch-end hooks run before the
    # System's, which is where the epoch values are logged.
    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking and trainer.state.fn == "fit":
            # Counted from 0 as in Lightning's progress bar and lighter's end-of-fit summary.
            last = trainer.max_epochs - 1 if trainer.max_epochs and trainer.max_epochs > 0 else None
            self._print(trainer, f"epoch {trainer.current_epoch}" + (f"/{last}" if last is not None else ""))
