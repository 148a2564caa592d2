"""Turning a predict batch into ``(identifier, pred)`` samples, shared by the prediction writers.

Identifiers come, in this order of preference, from:

1. the ``identifier`` entry of the ``predict_step`` output (the batch adapter's ``identifier_accessor``);
2. the dataset indices of the batch, which Lightning records for prediction writers (its predict
   dataloader's batch sampler is wrapped to remember them). In DDP Lightning predicts with an
   *unrepeated* distributed sampler, so rank ``r`` gets dataset indices ``r, r + world, …``: the
   index is unique across ranks and stable from run to run. With a user-supplied
   ``DistributedSampler`` (``use_distributed_sampler=False``) the padding duplicates it adds carry
   the index of the sample they repeat, so they get the same identifier (see the writers for what
   that means);
3. when neither is available (an iterable dataset), ``rank + world_size * n`` for the ``n``-th sample
   a rank sees: unique across ranks, but tied to the order samples arrive in.

With several predict dataloaders, numbered identifiers become ``"<dataloader>_<number>"`` so that
they do not collide.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pytorch_lightning.callbacks import BasePredictionWriter
from pytorch_lightning.utilities import rank_zero_info

from lighter.errors import WriterError

__all__ = ["SampleWriter", "split_samples"]


def _as_list(identifier: Any) -> list[Any]:
    """Per-sample identifiers as plain Python values (str or int)."""
    if hasattr(identifier, "tolist"):  # torch tensors, numpy arrays
        identifier = identifier.tolist()
    if isinstance(identifier, (str, bytes, int)):
        identifier = [identifier]
    values = []
    for value in identifier:
        if hasattr(value, "item"):  # a 0-d tensor or numpy scalar inside a list
            value = value.item()
        values.append(value.decode() if isinstance(value, bytes) else value)
    return values


def split_samples(outputs: Any, numbers: Sequence[Any], writer: str) -> Iterator[tuple[Any, Any]]:
    """Yield ``(identifier, pred)`` per sample of a ``predict_step`` output.

    Args:
        outputs: The dict ``predict_step`` returned (``pred`` and optional ``identifier``), or a bare
            batched prediction.
        numbers: Identifiers to use when the output carries none (one per sample).
        writer: The writer's name, for error messages.

    Raises:
        WriterError: No ``pred``, or identifiers whose number differs from the batch size.
    """
    if isinstance(outputs, Mapping):
        if outputs.get("pred") is None:
            raise WriterError(f"{writer} got a predict output without 'pred' (keys: {sorted(outputs)})")
        pred, identifier = outputs["pred"], outputs.get("identifier")
    else:
        pred, identifier = outputs, None
    size = len(pred)
    identifiers = list(numbers) if identifier is None else _as_list(identifier)
    if len(identifiers) != size:
        raise WriterError(
            f"{writer} got {len(identifiers)} identifiers for a batch of {size} predictions",
            suggestion="the batch adapter's identifier must give one identifier per sample",
        )
    for index, sample_id in enumerate(identifiers):
        yield sample_id, pred[index]


class SampleWriter(BasePredictionWriter):
    """Base of the prediction writers: per-batch samples with identifiers, and no stored outputs.

    Subclasses implement :meth:`write_samples`. While a writer is attached, Lightning's
    ``return_predictions`` is switched off at the start of predict: otherwise the predict loop keeps
    every batch's output (inputs included) until the end, and memory grows with the dataset. As a
    consequence ``trainer.predict(...)`` returns ``None`` when a writer is used.
    """

    def __init__(self) -> None:
        super().__init__(write_interval="batch")
        self._seen = 0  # samples this rank has numbered itself (fallback identifiers)

    def on_predict_start(self, trainer: Any, pl_module: Any) -> None:
        loop = trainer.predict_loop
        if loop.return_predictions:
            rank_zero_info(
                f"{type(self).__name__}: not keeping predictions in memory (return_predictions=False)"
            )
            loop.return_predictions = False
        self._seen = 0

    def write_on_batch_end(
        self,
        trainer: Any,
        pl_module: Any,
        prediction: Any,
        batch_indices: Sequence[int] | None,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        pred = prediction.get("pred") if isinstance(prediction, Mapping) else prediction
        size = 0 if pred is None else len(pred)
        numbers: list[Any] = list(batch_indices or [])
        if len(numbers) != size:  # indices unknown: number the samples ourselves
            world, rank = trainer.world_size, trainer.global_rank
            numbers = [rank + world * (self._seen + i) for i in range(size)]
            self._seen += size
        if len(trainer.num_predict_batches) > 1:
            numbers = [f"{dataloader_idx}_{n}" for n in numbers]
        self.write_samples(trainer, split_samples(prediction, numbers, type(self).__name__))

    def write_samples(self, trainer: Any, samples: Iterator[tuple[Any, Any]]) -> None:
        """Write (or record) each ``(identifier, pred)`` sample of one batch."""
        raise NotImplementedError
