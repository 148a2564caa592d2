"""The CLI drops Lightning's "💡 Tip:" lines and TensorBoard notice, and keeps everything else."""

from __future__ import annotations

import logging
import warnings

import pytest
from pytorch_lightning.utilities.rank_zero import rank_zero_info, rank_zero_warn

from lighter.lightning_tips import lightning_tips_silenced

TIP = "💡 Tip: For seamless cloud uploads and versioning, try installing [litmodels](...)"
NOTICE = (
    "Starting from v1.9.0, `tensorboardX` has been removed as a dependency of the `pytorch_lightning` package"
)


@pytest.fixture
def lightning_log():
    """The messages Lightning's rank-zero logger emits at INFO, captured by a handler of our own."""
    logger = logging.getLogger("pytorch_lightning.utilities.rank_zero")
    records: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: records.append(record.getMessage())
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_tips_are_dropped_and_other_info_kept(lightning_log):
    with lightning_tips_silenced():
        rank_zero_info(TIP)
        rank_zero_info("GPU available: False, used: False")
    assert lightning_log == ["GPU available: False, used: False"]


def test_tips_show_again_after_the_block(lightning_log):
    with lightning_tips_silenced():
        pass
    rank_zero_info(TIP)
    assert lightning_log == [TIP]


def test_only_the_known_notices_are_ignored():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with lightning_tips_silenced():
            rank_zero_warn(NOTICE)
            warnings.warn(
                "`isinstance(treespec, LeafSpec)` is deprecated, use `isinstance(treespec, TreeSpec)"
                " and treespec.is_leaf()` instead.",
                FutureWarning,
                stacklevel=1,
            )
            rank_zero_warn("The dataloader does not have many workers")
    assert [str(w.message) for w in caught] == ["The dataloader does not have many workers"]
