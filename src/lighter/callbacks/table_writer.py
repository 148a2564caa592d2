"""``TableWriter``: one CSV row per predicted sample, gathered from every rank."""

from __future__ import annotations

import csv
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytorch_lightning.utilities import rank_zero_warn

from lighter.atomic import atomic_open, os_reason
from lighter.callbacks.samples import SampleWriter
from lighter.errors import LighterError, WriterError, did_you_mean

__all__ = ["TableWriter", "tensor_cell"]


def tensor_cell(value: Any) -> Any:
    """A CSV cell for a prediction: a number for a scalar, a JSON list for a larger tensor."""
    if hasattr(value, "detach"):
        value = value.detach().cpu()
        value = value.item() if value.numel() == 1 else value.tolist()
    elif hasattr(value, "tolist"):  # numpy
        value = value.tolist()
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)  # a compact string: rows stay small, and json.loads reads it back
    return value


CELL_WRITERS: dict[str, Callable[[Any], Any]] = {"tensor": tensor_cell}


def _id_key(identifier: Any) -> tuple[int, Any]:
    """Numbers first in numeric order, then everything else by its text."""
    if isinstance(identifier, (int, float)):
        return (0, identifier)
    return (1, str(identifier))


def _sorted_ids(rows: dict[Any, Any]) -> list[Any]:
    """Identifiers in a stable order, whatever order the samples (and ranks, and workers) finished in."""
    return sorted(rows, key=_id_key)


class TableWriter(SampleWriter):
    """Write one CSV row per predicted sample (columns ``identifier``, ``pred``) at the end of predict.

    Only the formatted cell of each sample is kept (not the prediction), so memory grows by a small
    row per sample. At the end of the predict epoch the rows of all ranks are gathered
    (``torch.distributed.all_gather_object``), each identifier is kept once — the padding duplicates a
    ``DistributedSampler`` adds carry the identifier of the sample they repeat, so they are dropped —
    and global rank 0 writes the file atomically (:func:`lighter.atomic.atomic_open`). Rows are
    sorted by identifier (numbers in numeric order first, then the others by their text), so the
    file does not depend on the order in which ranks or workers finished.

    Args:
        path: The CSV file to write; its folder is created if needed.
        writer: ``"tensor"`` (a scalar as a number, a larger tensor as a JSON list) or a callable
            mapping one sample's pred to a cell value (lists/dicts are stored as JSON).
        workers: Background threads that compute the cells (default 0: inline). A cell is small
            Python work that holds the GIL, so threads only help a callable that spends its time
            in code releasing it (numpy, torch); every cell is computed before the rows are gathered.
        queue_samples: Most samples waiting for their cell at once (with ``workers > 0``).
        queue_mib: Most MiB of predictions waiting at once (with ``workers > 0``).

    Raises:
        WriterError: An unknown writer name, a writer that is neither a name nor a callable, or a
            queue setting out of range.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        writer: str | Callable[[Any], Any],
        workers: int = 0,
        queue_samples: int = 16,
        queue_mib: float = 512,
    ) -> None:
        super().__init__(workers=workers, queue_samples=queue_samples, queue_mib=queue_mib)
        self.path = Path(path)
        self.writer = writer
        if isinstance(writer, str):
            if writer not in CELL_WRITERS:
                raise WriterError(
                    f"unknown table writer '{writer}'",
                    suggestion=did_you_mean(writer, CELL_WRITERS)
                    or f"choose one of {', '.join(CELL_WRITERS)}",
                )
            self._cell = CELL_WRITERS[writer]
        elif callable(writer):
            self._cell = writer
        else:
            raise WriterError(
                f"TableWriter's writer must be a writer name or a callable, got {type(writer).__name__}"
            )
        self._rows: list[tuple[Any, Any]] = []
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def on_predict_start(self, trainer: Any, pl_module: Any) -> None:
        super().on_predict_start(trainer, pl_module)
        self._rows = []

    def write_sample(self, identifier: Any, pred: Any) -> None:
        try:
            cell = tensor_cell(self._cell(pred))
        except Exception as e:
            if isinstance(e, LighterError):
                reason = str(e).splitlines()[0]
            else:
                reason = f"{os_reason(e)} (in the writer {self._writer_name})"
            raise WriterError(f"TableWriter could not make the cell of '{identifier}': {reason}") from e
        with self._lock:
            self._rows.append((identifier, cell))

    @property
    def _writer_name(self) -> str:
        if isinstance(self.writer, str):
            return f"'{self.writer}'"
        return getattr(self.writer, "__qualname__", type(self.writer).__name__)

    def on_predict_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        super().on_predict_epoch_end(trainer, pl_module)  # every cell of this rank is computed
        rows = self._gather(trainer)
        self._rows = []
        if trainer.is_global_zero:
            self._write_csv(self._unique(rows))
        trainer.strategy.barrier("TableWriter")  # every rank returns only once the file exists

    def _gather(self, trainer: Any) -> list[tuple[Any, Any]]:
        import torch.distributed as dist

        if trainer.world_size < 2 or not (dist.is_available() and dist.is_initialized()):
            return self._rows
        # all_gather_object (not gather_object) because it is also supported by the NCCL backend
        parts: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(parts, self._rows)
        return [row for part in parts for row in part]

    @staticmethod
    def _unique(rows: list[tuple[Any, Any]]) -> dict[Any, Any]:
        unique: dict[Any, Any] = {}
        clashes = 0
        for identifier, cell in rows:
            if identifier in unique:
                clashes += unique[identifier] != cell
                continue
            unique[identifier] = cell
        if clashes:
            rank_zero_warn(
                f"TableWriter: {clashes} identifiers appear with different predictions; kept the first"
            )
        return unique

    def _write_csv(self, rows: dict[Any, Any]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_open(self.path, "w", newline="") as handle:
                table = csv.writer(handle)
                table.writerow(["identifier", "pred"])
                for identifier in _sorted_ids(rows):
                    table.writerow([identifier, rows[identifier]])
        except OSError as e:
            raise WriterError(f"TableWriter could not write {self.path}: {os_reason(e)}") from e
