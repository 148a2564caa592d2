"""Save checkpoints atomically, so a failed save never leaves a half-written or lost checkpoint.

Lightning's own :class:`~lightning_fabric.plugins.io.torch_io.TorchCheckpointIO` writes local
files through an ``fsspec`` transaction: the bytes are staged in the system's temporary folder and
then moved, which on another file system is a copy that a full disk cuts short, with no ``fsync``.
:class:`AtomicCheckpointIO` writes through :mod:`lighter.atomic` instead (a temporary file in the
checkpoint's own folder, ``fsync``, ``os.replace``): a reader sees the previous ``last.ckpt`` or
the complete new one, never a truncated file. A failure becomes an :class:`OutputError` naming
the file and the reason.

The runner installs it on every Trainer whose strategy uses the default checkpoint IO; a plugin
the user configured (``trainer#plugins``) is left alone. Remote paths (``s3://…``) go to
Lightning's implementation.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from lighter.atomic import atomic_open
from lighter.engine.failures import shown_path, write_fault
from lighter.errors import OutputError

__all__ = ["AtomicCheckpointIO", "use_atomic_checkpoints"]


class AtomicCheckpointIO(TorchCheckpointIO):
    """:class:`TorchCheckpointIO` whose local saves are atomic and whose failures are readable.

    Usable on its own too: ``trainer: {plugins: [{_target_: lighter.engine.checkpoint_io.AtomicCheckpointIO}]}``.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        """Write ``checkpoint`` to ``path`` atomically.

        Raises:
            OutputError: The folder cannot be created or the file cannot be written (full disk,
                file-size limit, permissions); any earlier file at ``path`` is left as it was.
        """
        if _is_remote(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} does not take storage_options")
        destination = Path(path)
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
            # Serialize in memory first (as Lightning does): torch's C++ writer reports a failed
            # write as a RuntimeError without the reason, a plain file write keeps the errno.
            buffer = io.BytesIO()
            torch.save(checkpoint, buffer)
            with atomic_open(destination, "wb") as handle:
                handle.write(buffer.getbuffer())
        except OSError as error:
            where, reason = write_fault(error, None if error.filename else str(destination))
            shown = shown_path(str(destination))
            detail = reason if where == shown else f"'{where}': {reason}"
            raise OutputError(f"cannot save checkpoint '{shown}': {detail}", path=where) from error


def use_atomic_checkpoints(trainer: Any) -> bool:
    """Give ``trainer``'s strategy an :class:`AtomicCheckpointIO` unless another plugin was configured.

    Returns:
        Whether it was installed (``False`` when the user's own plugin is kept).
    """
    strategy = trainer.strategy
    # The property creates a plain TorchCheckpointIO when nothing was configured.
    if type(strategy.checkpoint_io) is not TorchCheckpointIO:
        return False
    strategy.checkpoint_io = AtomicCheckpointIO()
    return True


def _is_remote(path: Any) -> bool:
    text = os.fspath(path) if isinstance(path, os.PathLike) else str(path)
    return "://" in text and not text.startswith("file://")
