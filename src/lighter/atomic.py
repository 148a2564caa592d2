"""Write files so that readers see either the old file, no file, or the complete new one.

Every file lighter writes (the run's ``config.yaml``, CSV tables, writer outputs, checkpoints)
goes through :func:`atomic_open` or :func:`atomic_write`: the data is written to a temporary name
in the destination's own folder (same file system), flushed and ``fsync``-ed, given the
permissions a plain ``open`` would give (``0o666`` less the umask, not ``mkstemp``'s ``0o600``),
then moved over the destination with :func:`os.replace`. A failure at any point removes the
temporary file and leaves the destination untouched.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["TEMP_PREFIX", "atomic_open", "atomic_write", "default_mode", "os_reason"]

TEMP_PREFIX = ".lighter-tmp-"
"""Prefix of every temporary name lighter creates next to a destination (so stale ones can be found)."""


def default_mode() -> int:
    """The permissions ``open(path, "w")`` gives a new file: ``0o666`` less the process umask."""
    # The umask can only be read by setting it; set it straight back.
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; on a clean exit it replaces ``path`` atomically.

    Args:
        path: The destination; its folder must exist.
        mode: ``"w"`` or ``"wb"`` (text or bytes); further keyword arguments go to :func:`open`
            (``newline=""`` for CSV, ``encoding``).

    Raises:
        OSError: Writing, syncing or renaming failed; the destination is untouched and the
            temporary file removed.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode must be 'w' or 'wb', got {mode!r}")
    destination = Path(path)
    fd, temp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{destination.name}.", dir=destination.parent)
    try:
        if "b" not in mode:
            kwargs.setdefault("encoding", "utf-8")
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, default_mode())
        os.replace(temp, destination)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def atomic_write(path: str | os.PathLike[str], data: str | bytes | Callable[[IO[Any]], None]) -> Path:
    """Write ``data`` (text, bytes, or a function that writes to an open handle) to ``path`` atomically.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    binary = isinstance(data, bytes | bytearray)
    with atomic_open(path, "wb" if binary else "w") as handle:
        if callable(data):
            data(handle)
        else:
            handle.write(data)
    return Path(path)


_REASONS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.EISDIR: "is a folder",
    errno.ENOTDIR: "a parent is not a folder",
    errno.ENOENT: "no such file or folder",
    errno.EEXIST: "already exists",
}


def os_reason(error: BaseException) -> str:
    """A short, lower-case reason for an ``OSError`` ("no space left on device"), else its text."""
    if isinstance(error, OSError) and error.errno in _REASONS:
        return _REASONS[error.errno]
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return f"{type(error).__name__}: {error}"
