"""Silence Lightning's advertising on the ``lighter`` command, and nothing else.

Every ``Trainer`` built by pytorch_lightning 2.6 logs "💡 Tip: ..." lines suggesting the
``litlogger`` and ``litmodels`` packages (``rank_zero_info`` on the ``…utilities.rank_zero``
logger), ``logger: true`` without TensorBoard installed warns that CSVLogger is the default, and
Lightning's own use of a torch API that torch 2.13 deprecates (``LeafSpec``) warns on every fit.
They say nothing about the user's experiment, and Lightning offers no switch to turn them off, so
the CLI drops exactly those messages: other log lines (``GPU available: …``) and every other
warning still show.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["lightning_tips_silenced"]

_TIP_PREFIX = "💡 Tip:"
# Where rank_zero_info logs, for the standalone package and for the unified `lightning` one.
_TIP_LOGGERS = ("pytorch_lightning.utilities.rank_zero", "lightning.pytorch.utilities.rank_zero")
# A regex matched against the start of the warning's message.
_TENSORBOARD_NOTICE = r"Starting from v1\.9\.0, `tensorboardX` has been removed as a dependency"
# Lightning 2.6 calls an API that newer torch deprecates; the user can do nothing about it.
_LEAFSPEC_NOTICE = r"`isinstance\(treespec, LeafSpec\)` is deprecated"


class _DropTips(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(_TIP_PREFIX)


@contextmanager
def lightning_tips_silenced() -> Iterator[None]:
    """Within the block, drop Lightning's "💡 Tip:" log lines and its TensorBoard-missing notice.

    The filters are removed on exit, so a caller running stages in-process (a test, a notebook)
    gets Lightning's output back afterwards. Importing this module does not import Lightning.
    """
    loggers = [logging.getLogger(name) for name in _TIP_LOGGERS]
    drop = _DropTips()
    for logger in loggers:
        logger.addFilter(drop)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_TENSORBOARD_NOTICE)
            warnings.filterwarnings("ignore", message=_LEAFSPEC_NOTICE)
            yield
    finally:
        for logger in loggers:
            logger.removeFilter(drop)
