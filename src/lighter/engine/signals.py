"""Obey SIGTERM and SIGINT: stop at the next batch boundary, save what can be resumed, exit non-zero.

Cluster schedulers send SIGTERM some time before SIGKILL, and Ctrl+C sends SIGINT. Lightning 2.x
already has half of the machinery: its ``_SignalConnector`` records a SIGTERM, and its training and
evaluation loops then raise ``SIGTERMException`` (a ``SystemExit``) once the current batch is done.
lighter builds on that instead of fighting it:

* :class:`SignalWatch` handles both signals for the whole run. Before the stage starts, a signal
  stops the run at once. While it runs, the signal is only recorded (SIGINT included, so Ctrl+C
  no longer interrupts a batch halfway) and Lightning's flag is raised, so the loops stop cleanly.
  A second signal stops at once.
* :class:`StopAtBatchEnd`, a callback, adds what Lightning lacks: the predict loop never looks at
  the flag, so it stops there; and in ``fit`` it saves ``interrupted.ckpt`` (atomically) from
  ``on_exception``, a checkpoint to resume from.
* The runner turns the stop into :class:`~lighter.errors.Interrupted`, whose exit status is
  ``128 + signal`` (143 for SIGTERM, 130 for SIGINT) instead of Lightning's 0 or 1.
"""

from __future__ import annotations

import shlex
import signal
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from pytorch_lightning import Callback
from pytorch_lightning.utilities.exceptions import SIGTERMException

from lighter.engine.failures import shown_path
from lighter.errors import Interrupted

__all__ = ["SIGNALS", "SignalWatch", "StopAtBatchEnd", "Stopped", "INTERRUPTED_CHECKPOINT"]

SIGNALS = (signal.SIGTERM, signal.SIGINT)
INTERRUPTED_CHECKPOINT = "interrupted.ckpt"


class Stopped(BaseException):
    """Raised by the handler when a signal arrives while no stage is running (a BaseException, like
    KeyboardInterrupt, so no ``except Exception`` in user code swallows it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class SignalWatch:
    """Context manager that handles SIGTERM and SIGINT for one run (main thread only; elsewhere inert).

    Attributes:
        received: The first signal received, or ``None``.
        trainer: The Trainer running the stage, once :meth:`watch` was called.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self.trainer: Any = None
        self.callback: StopAtBatchEnd | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> SignalWatch:
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                self._previous[signum] = signal.getsignal(signum)
                signal.signal(signum, self._handle)
        return self

    def __exit__(self, kind: type | None, value: BaseException | None, tb: TracebackType | None) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous = {}

    def watch(self, trainer: Any, save_checkpoint: bool) -> StopAtBatchEnd:
        """Attach to ``trainer``: from now on a signal stops it at the next batch boundary.

        Args:
            trainer: The Trainer about to run the stage.
            save_checkpoint: Whether a stop saves ``interrupted.ckpt`` (for ``fit``).
        """
        self.trainer = trainer
        self.callback = StopAtBatchEnd(self, save_checkpoint)
        trainer.callbacks.append(self.callback)
        return self.callback

    @property
    def exit_status(self) -> int:
        """``128 + signal number``, what a shell reports for a process the signal ended."""
        return 128 + int(self.received or 0)

    @property
    def name(self) -> str:
        return signal.Signals(self.received).name if self.received else "a signal"

    def stopped_by(self, error: BaseException) -> bool:
        """Whether a signal ended the stage with ``error`` (whatever ``error`` is, the signal caused it)."""
        if isinstance(error, SIGTERMException) and self.received is None:
            self.received = signal.SIGTERM  # Lightning's own handler saw it (we are not in the main thread)
        return self.received is not None

    def interrupted(
        self, position: str | None, stage: str, config: Any, overrides: Sequence[str], complete: bool = False
    ) -> Interrupted:
        """The error the run ends with: which signal, where it stopped, and how to resume.

        Args:
            position: Where the stage was (``"fit, epoch 0, step 3"``), ``None`` before it started.
            stage: The stage's name.
            config: The config path(s) as given, and ``overrides``: to spell the resume command.
            complete: The signal came after the stage had finished.
        """
        if complete:
            message = f"received {self.name} after {stage} finished; its results are complete"
        elif position is None:
            message = f"stopped by {self.name} before {stage} started"
        else:
            message = f"stopped by {self.name} during {position}"
        details = None
        saver = self.callback
        if saver is not None and saver.checkpoint is not None:
            checkpoint = shown_path(str(saver.checkpoint))  # relative to where the command was run
            message += f"; saved a checkpoint to resume from: {checkpoint}"
            names = config if isinstance(config, str | Path) else ",".join(map(str, config))
            kept = [o for o in overrides if not o.lstrip("-").startswith(f"args#{stage}#ckpt_path")]
            command = ["lighter", stage, str(names), *kept, f"--args#{stage}#ckpt_path={checkpoint}"]
            details = f"resume with: {shlex.join(command)}"
        elif saver is not None and saver.save_error is not None:
            message += f"; could not save {INTERRUPTED_CHECKPOINT}: {saver.save_error}"
        return Interrupted(message, exit_status=self.exit_status, details=details)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        first = self.received is None
        if first:
            self.received = signum
        if self.trainer is None or not first:
            # Nothing to stop cleanly yet, or the user insists: stop now.
            raise Stopped(signum)
        self.raise_flag()

    def raise_flag(self) -> None:
        """Set the flag Lightning's loops check after each batch (its own SIGTERM handler sets it
        too; SIGINT would otherwise raise KeyboardInterrupt in the middle of a batch)."""
        connector = getattr(self.trainer, "_signal_connector", None)
        if connector is not None:
            connector.received_sigterm = True


class StopAtBatchEnd(Callback):
    """Stop predict at a batch boundary on a signal, and save a checkpoint when ``fit`` stops.

    Args:
        watch: The run's :class:`SignalWatch`.
        save_checkpoint: Save ``interrupted.ckpt`` when the stop interrupts training.

    Attributes:
        checkpoint: Where the checkpoint was saved, once it was.
        save_error: Why saving it failed, if it did.
    """

    def __init__(self, watch: SignalWatch, save_checkpoint: bool) -> None:
        self.watch = watch
        self.save_checkpoint = save_checkpoint
        self.checkpoint: Path | None = None
        self.save_error: BaseException | None = None

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        # Lightning clears its flag when the stage starts: a signal that came just before is
        # raised again here, so the first batch is also the last.
        if self.watch.received is not None:
            self.watch.raise_flag()

    def on_predict_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        # Lightning's predict loop never checks for a signal; the writers have had this batch.
        if self.watch.received is not None:
            raise SIGTERMException

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        if self.watch.received is None or not self.save_checkpoint or isinstance(exception, Stopped):
            return  # no signal, not fit, or a second signal: the user wants out now
        folder = _checkpoint_folder(trainer)
        path = folder / INTERRUPTED_CHECKPOINT
        try:
            trainer.save_checkpoint(path, weights_only=False)  # a full one: resumable
        except Exception as error:  # reported with the interruption; the stop itself must go on
            self.save_error = error
            return
        self.checkpoint = path


def _checkpoint_folder(trainer: Any) -> Path:
    """The run's checkpoint folder (the ModelCheckpoint's), else the run folder."""
    callback = trainer.checkpoint_callback
    dirpath = getattr(callback, "dirpath", None) if callback is not None else None
    if dirpath:
        return Path(dirpath)
    return Path(trainer.log_dir or trainer.default_root_dir)
