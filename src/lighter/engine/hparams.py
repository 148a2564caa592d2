"""Give every logger the run's config as flat hyperparameters: one entry per value.

``system#optimizer#lr: 0.003``, ``trainer#max_epochs: 3`` …, so TensorBoard's hparams tab,
MLflow's params and W&B's config can filter and compare runs by any config value, named by the id
the user would override it with. (Lightning would log the nested config, which loggers flatten
with their own separators and in which a list of callbacks is one long string.)

MLflow refuses ``#`` in a parameter name; it gets the same id spelled with ``::``, lighter's other
spelling of ``#``, so ``--system::optimizer::lr=...`` still overrides what the table shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytorch_lightning import Callback

from lighter.engine.records import flat_config

__all__ = ["LogConfig", "separator_for"]

# Loggers whose parameter names cannot hold '#', and the id separator they get instead.
_SEPARATORS = {"MLFlowLogger": "::"}


def separator_for(logger: Any) -> str:
    """The id separator ``logger``'s parameter names can hold (``#`` unless the logger refuses it)."""
    for cls in type(logger).__mro__:
        if cls.__name__ in _SEPARATORS:
            return _SEPARATORS[cls.__name__]
    return "#"


class LogConfig(Callback):
    """Log ``config`` flattened to every logger of the Trainer when the stage sets up (process 0 logs).

    Args:
        config: The run's config (the one saved as ``config.yaml``).
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        self.logged = False

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        if self.logged:
            return
        for logger in trainer.loggers:
            logger.log_hyperparams(flat_config(self.config, separator_for(logger)))
        self.logged = True
