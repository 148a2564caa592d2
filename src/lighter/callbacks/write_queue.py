"""``WriteQueue``: prediction writes done by background threads while the model keeps predicting.

Writing a sample is mostly compression (zlib) and file I/O, and both release the GIL, as does the
model's own forward pass: threads overlap them without the cost of pickling tensors to other
processes. The queue is bounded in samples *and* bytes, so a slow disk makes ``predict`` wait
instead of letting memory grow. The first failed write is kept and raised in the caller's thread
(on its next :meth:`WriteQueue.submit` or at :meth:`WriteQueue.drain`); writes not yet started are
then dropped, so they never create a file.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["WriteQueue", "detached_copy", "size_in_bytes"]

_IDLE_POLL_S = 0.5  # how often an idle worker checks that the main thread is still alive


def detached_copy(value: Any) -> Any:
    """A CPU copy of every tensor / array in ``value`` that nothing else holds a reference to.

    The prediction a worker writes must not change under it: the model may reuse an output buffer,
    an in-place transform may run on the next batch, and a view of the batch would also keep the
    whole batch alive (and ``torch.save`` would store all of it). ``Tensor.to(copy=True)`` keeps a
    MONAI ``MetaTensor``'s metadata.
    """
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if hasattr(value, "__array__") and hasattr(value, "copy") and hasattr(value, "nbytes"):  # numpy
        return value.copy()
    if isinstance(value, dict):
        return {key: detached_copy(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        items = [detached_copy(item) for item in value]
        return type(value)(items) if type(value) in (list, tuple) else items
    return value


def size_in_bytes(value: Any) -> int:
    """The bytes held by the tensors / arrays in ``value`` (what a queued write keeps in memory)."""
    if isinstance(value, torch.Tensor):
        return value.element_size() * value.numel()
    if hasattr(value, "nbytes") and isinstance(getattr(value, "nbytes", None), int):
        return value.nbytes
    if isinstance(value, dict):
        return sum(size_in_bytes(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return sum(size_in_bytes(item) for item in value)
    return 0


class WriteQueue:
    """Run write jobs on ``workers`` threads, at most ``max_samples`` / ``max_bytes`` pending.

    A pending job is one queued or being written; its bytes count until it is done. A job larger
    than ``max_bytes`` is still accepted when nothing else is pending (otherwise it could never
    run). With ``workers=0`` every job runs at once in the caller's thread.

    Worker threads are started on the first job and end at :meth:`close`. They are not daemons:
    if the main thread ends without closing the queue, the workers finish the queued jobs and then
    exit, so the interpreter neither hangs nor drops writes.

    Args:
        workers: Number of threads; 0 writes inline.
        max_samples: Most jobs pending at once (at least 1).
        max_bytes: Most bytes pending at once.
        name: Thread name prefix (shows in ``threading.enumerate()`` and stack dumps).
    """

    def __init__(self, workers: int, max_samples: int, max_bytes: int, name: str = "lighter-writer") -> None:
        self.workers = workers
        self.max_samples = max(1, max_samples)
        self.max_bytes = max_bytes
        self.name = name
        self._cond = threading.Condition()
        self._jobs: collections.deque[tuple[Callable[[], None], int]] = collections.deque()
        self._pending = 0
        self._pending_bytes = 0
        self._error: BaseException | None = None
        self._error_raised = False
        self._closed = False
        self._threads: list[threading.Thread] = []

    def submit(self, job: Callable[[], None], nbytes: int = 0) -> None:
        """Queue ``job``, first waiting while the queue is full.

        Raises:
            BaseException: The error of an earlier job that failed (raised once).
        """
        if self.workers == 0:
            job()
            return
        with self._cond:
            if self._closed:
                raise RuntimeError(f"{self.name}: the write queue is closed")
            self._raise_failure()
            self._start_workers()
            while self._error is None and self._pending and self._full(nbytes):
                self._cond.wait()
            self._raise_failure()
            self._jobs.append((job, nbytes))
            self._pending += 1
            self._pending_bytes += nbytes
            self._cond.notify_all()

    def drain(self) -> None:
        """Wait until every queued job has finished.

        Raises:
            BaseException: The first job error, if one failed (raised once).
        """
        with self._cond:
            while self._pending and self._error is None:
                self._cond.wait()
            self._raise_failure()

    def close(self, cancel: bool = False) -> None:
        """Stop the workers and wait for them: the queued jobs are written first, or dropped if ``cancel``.

        A job already being written always finishes (it cleans up after itself when it fails), so
        no thread is left running and no half-written file is left behind. Never raises a job error.
        """
        with self._cond:
            self._closed = True
            if cancel:
                self._drop_queued()
            self._cond.notify_all()
        for thread in self._threads:
            thread.join()
        self._threads = []

    @property
    def pending(self) -> int:
        """Jobs queued or being written."""
        return self._pending

    def _full(self, nbytes: int) -> bool:
        return self._pending >= self.max_samples or self._pending_bytes + nbytes > self.max_bytes

    def _raise_failure(self) -> None:
        if self._error is not None and not self._error_raised:
            self._error_raised = True
            raise self._error

    def _drop_queued(self) -> None:
        for _, nbytes in self._jobs:
            self._pending -= 1
            self._pending_bytes -= nbytes
        self._jobs.clear()

    def _start_workers(self) -> None:
        if self._threads:
            return
        for index in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"{self.name}-{index}", daemon=False)
            thread.start()
            self._threads.append(thread)

    def _next_job(self) -> tuple[Callable[[], None], int] | None:
        """The next job, or ``None`` when the worker should exit."""
        with self._cond:
            while not self._jobs:
                if self._closed or not threading.main_thread().is_alive():
                    return None
                self._cond.wait(_IDLE_POLL_S)
            return self._jobs.popleft()

    def _work(self) -> None:
        while (item := self._next_job()) is not None:
            job, nbytes = item
            try:
                job()
                failure = None
            except BaseException as e:  # noqa: BLE001 - handed to the main thread, which raises it
                failure = e
            item = job = None  # type: ignore[assignment]  # let the sample go while waiting for the next
            with self._cond:
                self._pending -= 1
                self._pending_bytes -= nbytes
                if failure is not None and self._error is None:
                    self._error = failure
                    self._drop_queued()  # the run stops: writes not yet started never begin
                self._cond.notify_all()
