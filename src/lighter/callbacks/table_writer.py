"""``TableWriter``: one CSV row per predicted sample, gathered from every rank."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pytorch_lightning.utilities import rank_zero_warn

from lighter.callbacks.samples import SampleWriter
from lighter.errors import WriterError, did_you_mean

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


def _sorted_ids(rows: dict[Any, Any]) -> list[Any]:
    """Identifiers sorted when they are comparable (all str or all numbers), else in arrival order."""
    try:
        return sorted(rows)
    except TypeError:
        return list(rows)


class TableWriter(SampleWriter):
    """Write one CSV row per predicted sample (columns ``identifier``, ``pred``) at the end of predict.

    Only the formatted cell of each sample is kept (not the prediction), so memory grows by a small
    row per sample. At the end of the predict epoch the rows of all ranks are gathered
    (``torch.distributed.all_gather_object``), each identifier is kept once — the padding duplicates a
    ``DistributedSampler`` adds carry the identifier of the sample they repeat, so they are dropped —
    and global rank 0 writes the file atomically (temporary file + rename). Rows are sorted by
    identifier where identifiers are comparable.

    Args:
        path: The CSV file to write; its folder is created if needed.
        writer: ``"tensor"`` (a scalar as a number, a larger tensor as a JSON list) or a callable
            mapping one sample's pred to a cell value (lists/dicts are stored as JSON).

    Raises:
        WriterError: An unknown writer name, or a writer that is neither a name nor a callable.
    """

    def __init__(self, path: str | os.PathLike[str], writer: str | Callable[[Any], Any]) -> None:
        super().__init__()
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

    def on_predict_start(self, trainer: Any, pl_module: Any) -> None:
        super().on_predict_start(trainer, pl_module)
        self._rows = []

    def write_samples(self, trainer: Any, samples: Iterator[tuple[Any, Any]]) -> None:
        for identifier, pred in samples:
            self._rows.append((identifier, tensor_cell(self._cell(pred))))

    def on_predict_epoch_end(self, trainer: Any, pl_module: Any) -> None:
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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(
            "w", newline="", dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp", delete=False
        )
        try:
            with handle:
                table = csv.writer(handle)
                table.writerow(["identifier", "pred"])
                for identifier in _sorted_ids(rows):
                    table.writerow([identifier, rows[identifier]])
            os.replace(handle.name, self.path)
        except BaseException:
            Path(handle.name).unlink(missing_ok=True)
            raise
