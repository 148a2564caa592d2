"""``FileWriter``: one file per predicted sample, never half-written."""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lighter.callbacks.formats import FORMATS, Format, SampleFileWriter
from lighter.callbacks.samples import SampleWriter
from lighter.errors import LighterError, WriterError, did_you_mean

__all__ = ["FileWriter", "file_name", "write_atomically"]


def file_name(identifier: Any) -> str:
    """A file name for an identifier that cannot leave the output folder.

    Path separators (``/``, ``\\``) and NUL become ``_``; ``""``, ``"."`` and ``".."`` are refused.
    Two identifiers that differ only by those characters map to the same name.
    """
    name = str(identifier)
    for char in ("/", "\\", "\0"):
        name = name.replace(char, "_")
    if name in ("", ".", ".."):
        raise WriterError(f"FileWriter cannot name a file after the identifier {identifier!r}")
    return name


def write_atomically(folder: Path, name: str, write: SampleFileWriter, value: Any) -> list[Path]:
    """Call ``write(folder/.tmp/name, value)`` in a private staging folder, then move its files in place.

    The staging folder sits inside ``folder`` (same file system), so each ``os.replace`` is atomic:
    readers see either no file or a complete one, and a writer that fails leaves nothing behind.
    Whatever files the writer created (it may add its own suffix, or write a header/data pair)
    are moved. Two ranks writing the same name both succeed; the last rename wins.

    Returns:
        The final paths written.
    """
    staging = Path(tempfile.mkdtemp(prefix=".lighter-tmp-", dir=folder))
    try:
        write(staging / name, value)
        produced = sorted(staging.iterdir())
        if not produced:
            raise WriterError(f"FileWriter: the writer created no file for '{name}'")
        finals = []
        for path in produced:
            final = folder / path.name
            os.replace(path, final)
            finals.append(final)
        return finals
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_builtin(fmt: Format, target: Path, tensor: Any) -> None:
    fmt.write(f"{target}{fmt.extension}", tensor)


class FileWriter(SampleWriter):
    """Write each predicted sample to ``path/<identifier>.<ext>`` during ``predict``.

    Each sample's ``pred`` (batch dimension removed) is written as soon as its batch is predicted
    and then dropped, so memory stays flat however long the run. Identifiers are described in
    :mod:`lighter.callbacks.samples`; they are made safe as file names by :func:`file_name`. In DDP
    every rank writes its own samples; a padding duplicate added by a ``DistributedSampler`` has the
    identifier of the sample it repeats, so it replaces that file (atomically) with the same content.

    Args:
        path: Output folder, created if needed.
        writer: A built-in writer name (``tensor``, ``image``, ``nifti``, ``itk_nifti``, ``itk_nrrd``,
            ``itk_seg_nrrd``, ``video``; see :mod:`lighter.callbacks.formats`) or a callable
            ``(path, tensor)``. A callable gets a ``pathlib.Path`` *without* extension
            (``.../<identifier>``) and adds its own, e.g. ``np.save(f"{path}.npy", tensor.numpy())``.

    Raises:
        WriterError: An unknown writer name (with the closest built-in) or a writer that is neither
            a name nor a callable.
    """

    def __init__(self, path: str | os.PathLike[str], writer: str | SampleFileWriter) -> None:
        super().__init__()
        self.path = Path(path)
        self.writer = writer
        if isinstance(writer, str):
            if writer not in FORMATS:
                raise WriterError(
                    f"unknown writer '{writer}'",
                    suggestion=did_you_mean(writer, FORMATS) or f"choose one of {', '.join(FORMATS)}",
                )
            # a partial, not a lambda, so that the callback stays picklable (ddp_spawn)
            self._write = functools.partial(_write_builtin, FORMATS[writer])
        elif callable(writer):
            self._write = writer
        else:
            raise WriterError(
                f"FileWriter's writer must be a writer name or a callable, got {type(writer).__name__}"
            )

    def on_predict_start(self, trainer: Any, pl_module: Any) -> None:
        super().on_predict_start(trainer, pl_module)
        self.path.mkdir(parents=True, exist_ok=True)

    def write_samples(self, trainer: Any, samples: Iterator[tuple[Any, Any]]) -> None:
        for identifier, pred in samples:
            name = file_name(identifier)
            try:
                write_atomically(self.path, name, self._write, pred)
            except LighterError:
                raise
            except Exception as e:
                raise WriterError(
                    f"FileWriter could not write '{name}' with the writer {self._writer_name}: {type(e).__name__}: {e}"
                ) from e

    @property
    def _writer_name(self) -> str:
        if isinstance(self.writer, str):
            return f"'{self.writer}'"
        return getattr(self.writer, "__qualname__", type(self.writer).__name__)
