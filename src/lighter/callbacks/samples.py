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

import functools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pytorch_lightning.callbacks import BasePredictionWriter
from pytorch_lightning.utilities import rank_zero_info

from lighter.callbacks.write_queue import WriteQueue, detached_copy, size_in_bytes
from lighter.errors import WriterError

__all__ = ["SampleWriter", "split_samples"]

MIB = 2**20


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


def _check_count(writer: str, name: str, value: Any, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise WriterError(f"{writer}'s {name} must be a whole number of at least {least}, got {value!r}")


class SampleWriter(BasePredictionWriter):
    """Base of the prediction writers: per-sample writes, optionally in background threads.

    Subclasses implement :meth:`write_sample`. With ``workers > 0`` each sample is copied to the CPU
    (detached, so the model cannot change it later) and written by a worker thread of a
    :class:`~lighter.callbacks.write_queue.WriteQueue` while the next batch is predicted; at most
    ``queue_samples`` samples and ``queue_mib`` MiB wait at once, otherwise predict waits. Every
    write has finished at the end of the predict epoch (before any gathering across processes);
    the first failed write stops the run with its error, raised in the main process.

    While a writer is attached, Lightning's ``return_predictions`` is switched off at the start of
    predict: otherwise the predict loop keeps every batch's output (inputs included) until the end,
    and memory grows with the dataset. As a consequence ``trainer.predict(...)`` returns ``None``
    when a writer is used.

    Args:
        workers: Background writer threads; 0 writes each sample inline (the model waits).
        queue_samples: Most samples waiting to be written or being written.
        queue_mib: Most MiB of predictions waiting or being written (a single larger sample is
            still written, alone).

    Raises:
        WriterError: A count that is not a whole number in range.
    """

    def __init__(self, workers: int = 0, queue_samples: int = 16, queue_mib: float = 512) -> None:
        super().__init__(write_interval="batch")
        name = type(self).__name__
        _check_count(name, "workers", workers, 0)
        _check_count(name, "queue_samples", queue_samples, 1)
        if isinstance(queue_mib, bool) or not isinstance(queue_mib, (int, float)) or not queue_mib > 0:
            raise WriterError(f"{name}'s queue_mib must be a positive number, got {queue_mib!r}")
        self.workers = workers
        self.queue_samples = queue_samples
        self.queue_mib = queue_mib
        self._seen = 0  # samples this rank has numbered itself (fallback identifiers)
        self._queue: WriteQueue | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_queue"] = None  # threads and locks do not travel to spawned processes
        return state

    def on_predict_start(self, trainer: Any, pl_module: Any) -> None:
        loop = trainer.predict_loop
        if loop.return_predictions:
            rank_zero_info(
                f"{type(self).__name__}: not keeping predictions in memory (return_predictions=False)"
            )
            loop.return_predictions = False
        self._seen = 0
        self._close(cancel=True)
        self._open_queue()

    def _open_queue(self) -> WriteQueue:
        self._queue = WriteQueue(
            self.workers,
            max_samples=self.queue_samples,
            max_bytes=int(self.queue_mib * MIB),
            name=f"lighter-{type(self).__name__}",
        )
        return self._queue

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
        queue = self._queue or self._open_queue()  # a subclass may skip on_predict_start
        for identifier, sample in split_samples(prediction, numbers, type(self).__name__):
            if queue.workers:
                sample = detached_copy(sample)
            queue.submit(functools.partial(self.write_sample, identifier, sample), size_in_bytes(sample))

    def on_predict_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self._queue is not None:
            self._queue.drain()

    def on_predict_end(self, trainer: Any, pl_module: Any) -> None:
        self._close(cancel=False)

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        # Ctrl-C or an error: writes not yet started are dropped (they never created a file); the
        # ones being written finish or clean up. No worker thread outlives the run.
        self._close(cancel=True)

    def teardown(self, trainer: Any, pl_module: Any, stage: str) -> None:
        self._close(cancel=True)

    def _close(self, cancel: bool) -> None:
        if self._queue is not None:
            self._queue.close(cancel=cancel)
            self._queue = None

    def write_sample(self, identifier: Any, pred: Any) -> None:
        """Write (or record) one sample; may run in a worker thread."""
        raise NotImplementedError
