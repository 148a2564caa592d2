"""``FileWriter``: one file per predicted sample, never half-written."""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from lighter.atomic import TEMP_PREFIX, os_reason
from lighter.callbacks.formats import FORMATS, Format, SampleFileWriter
from lighter.callbacks.samples import SampleWriter
from lighter.errors import LighterError, MissingDependencyError, WriterError, did_you_mean

__all__ = ["FileWriter", "file_name", "remove_stale_staging", "write_atomically"]


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

    Each file is ``fsync``-ed before it is moved, and gets the permissions a plain ``open`` gives,
    as with :func:`lighter.atomic.atomic_open`.

    Returns:
        The final paths written.

    Raises:
        WriterError: The writer created no file.
    """
    staging = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=folder))
    try:
        write(staging / name, value)
        produced = sorted(staging.iterdir())
        if not produced:
            raise WriterError("the writer created no file")
        for path in produced:
            _sync(path)
        finals = []
        for path in produced:
            final = folder / path.name
            os.replace(path, final)
            finals.append(final)
        return finals
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _sync(path: Path) -> None:
    """Flush a finished file to disk, so that a crash after the rename cannot leave it empty."""
    if not path.is_file():
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


STALE_AFTER_S = 600.0

# When this process loaded the writer. torchrun stops a whole group before it restarts it, so in a
# restarted group an entry of ours unchanged since before then was left by the stopped attempt.
_LOADED = time.time()


def _stale_after_s() -> float:
    if os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") in ("", "0"):
        return STALE_AFTER_S
    return min(STALE_AFTER_S, max(0.0, time.time() - _LOADED))


"""A temporary entry untouched for this long belongs to no live write (one sample takes seconds)."""


def _last_change(entry: Path) -> float:
    """The newest modification time of an entry and, for a folder, of the files in it."""
    times = [entry.lstat().st_mtime]
    if entry.is_dir() and not entry.is_symlink():
        times += [child.lstat().st_mtime for child in entry.iterdir()]
    return max(times)


def remove_stale_staging(folder: Path, older_than_s: float = STALE_AFTER_S) -> int:
    """Remove the ``.lighter-tmp-*`` entries an interrupted run left in ``folder``; return how many.

    Only lighter's own temporary names are touched (staging folders and
    :func:`lighter.atomic.atomic_open` files), never the user's files, and only those unchanged
    for ``older_than_s`` seconds: another run writing into the same folder at the same time (a
    job array sharing one output folder) keeps its live ones.
    """
    now = time.time()
    removed = 0
    for entry in folder.glob(f"{TEMP_PREFIX}*"):
        with contextlib.suppress(OSError):  # best effort: gone meanwhile, or not ours to remove
            if now - _last_change(entry) < older_than_s:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed += 1
    return removed


def _write_builtin(fmt: Format, target: Path, tensor: Any) -> None:
    fmt.write(f"{target}{fmt.extension}", tensor)


class FileWriter(SampleWriter):
    """Write each predicted sample to ``path/<identifier>.<ext>`` during ``predict``.

    Each sample's ``pred`` (batch dimension removed) is handed to background worker threads as
    soon as its batch is predicted, so the model does not wait for compression and the disk; the
    queue is bounded (``queue_samples`` samples, ``queue_mib`` MiB), so memory stays flat however
    long the run. Every file has been written when the predict epoch ends; a failed write stops the
    run with a :class:`~lighter.errors.WriterError` naming the sample and the path. Identifiers are
    described in :mod:`lighter.callbacks.samples`; they are made safe as file names by
    :func:`file_name`. In DDP every rank writes its own samples; a padding duplicate added by a
    ``DistributedSampler`` has the identifier of the sample it repeats, so it replaces that file
    (atomically) with the same content.

    At the start of predict, lighter's own temporary entries (``.lighter-tmp-*``) that an
    interrupted run left in ``path`` are removed (see :func:`remove_stale_staging`); in a group
    ``torchrun --max-restarts`` restarted, at once, since the attempt that left them is stopped.

    Args:
        path: Output folder, created if needed.
        writer: A built-in writer name (``tensor``, ``image``, ``nifti``, ``itk_nifti``, ``itk_nrrd``,
            ``itk_seg_nrrd``, ``video``; see :mod:`lighter.callbacks.formats`) or a callable
            ``(path, tensor)``. A callable gets a ``pathlib.Path`` *without* extension
            (``.../<identifier>``) and adds its own, e.g. ``np.save(f"{path}.npy", tensor.numpy())``;
            with ``workers > 0`` it is called from several threads at once.
        workers: Background writer threads (default 2); 0 writes inline, the model waiting for it.
        queue_samples: Most samples waiting or being written at once (default 16).
        queue_mib: Most MiB of predictions waiting or being written at once (default 512).

    Raises:
        WriterError: An unknown writer name (with the closest built-in), a writer that is neither
            a name nor a callable, or a queue setting out of range.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        writer: str | SampleFileWriter,
        workers: int = 2,
        queue_samples: int = 16,
        queue_mib: float = 512,
    ) -> None:
        super().__init__(workers=workers, queue_samples=queue_samples, queue_mib=queue_mib)
        self.path = Path(path)
        self.writer = writer
        self._extension = ""
        if isinstance(writer, str):
            if writer not in FORMATS:
                raise WriterError(
                    f"unknown writer '{writer}'",
                    suggestion=did_you_mean(writer, FORMATS) or f"choose one of {', '.join(FORMATS)}",
                )
            # a partial, not a lambda, so that the callback stays picklable (ddp_spawn)
            self._write = functools.partial(_write_builtin, FORMATS[writer])
            self._extension = FORMATS[writer].extension
        elif callable(writer):
            self._write = writer
        else:
            raise WriterError(
                f"FileWriter's writer must be a writer name or a callable, got {type(writer).__name__}"
            )

    def on_predict_start(self, trainer: Any, pl_module: Any) -> None:
        super().on_predict_start(trainer, pl_module)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise WriterError(f"FileWriter cannot create the folder {self.path}: {os_reason(e)}") from e
        if not os.access(self.path, os.W_OK | os.X_OK):  # fail before predicting, not at the first write
            raise WriterError(f"FileWriter cannot write into the folder {self.path}: permission denied")
        if trainer.local_rank == 0:  # one process per machine (the folder may be local or shared)
            remove_stale_staging(self.path, _stale_after_s())

    def on_predict_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        super().on_predict_epoch_end(trainer, pl_module)  # every write of this rank has finished
        trainer.strategy.barrier("FileWriter")  # ... and of every rank, when predict returns

    def write_sample(self, identifier: Any, pred: Any) -> None:
        name = file_name(identifier)
        try:
            write_atomically(self.path, name, self._write, pred)
        except MissingDependencyError:
            raise  # about the writer, not this sample; it says what to install
        except Exception as e:
            if isinstance(e, LighterError):  # it already says which writer and why
                reason = str(e).splitlines()[0]
            else:
                reason = f"{os_reason(e)} (in the writer {self._writer_name})"
            raise WriterError(
                f"FileWriter could not write '{identifier}' to {self.path / name}{self._extension}: {reason}"
            ) from e

    @property
    def _writer_name(self) -> str:
        if isinstance(self.writer, str):
            return f"'{self.writer}'"
        return getattr(self.writer, "__qualname__", type(self.writer).__name__)
