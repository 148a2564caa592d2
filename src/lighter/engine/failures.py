"""Say where a running stage failed: which config id was running, and at which epoch and step.

An exception from the user's own code (a criterion given the wrong shapes, a dataset that reads a
bad file, a collate function that is not one) keeps its traceback, since that is the user's code,
but the run ends with one lighter line that names the config id, where it was written, and the
position in the run::

    exp.yaml:31 @ system#criterion: during fit, epoch 0, step 0: RuntimeError: ...

Parts of the System mark an exception with the id they were running (:func:`lighter.errors.blame`); exceptions
raised inside a DataLoader are recognized by their traceback. A failed write of an output (full
disk, file-size limit, permissions, a file where a folder belongs) is not the user's code: it
becomes one :class:`~lighter.errors.OutputError` naming the path, without a traceback.
"""

from __future__ import annotations

import errno
import functools
import traceback
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from pytorch_lightning import Callback

from lighter.atomic import TEMP_PREFIX, os_reason
from lighter.config.components import locate_error
from lighter.errors import LighterError, Location, OutputError, UserCodeError, blamed

__all__ = [
    "WRITE_FAULTS",
    "RecordPosition",
    "describe_position",
    "output_error",
    "shown_path",
    "stage_failure",
    "write_fault",
    "user_code_error",
    "user_frames",
]

WRITE_FAULTS = frozenset(
    {
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EFBIG,
        errno.EACCES,
        errno.EPERM,
        errno.EROFS,
        errno.EEXIST,
        errno.ENOTDIR,
        errno.EISDIR,
    }
)
"""``OSError`` numbers that mean an output cannot be written where the config says."""

_MODE_OF_STAGE = {
    "train": "train",
    "sanity_check": "val",
    "validate": "val",
    "test": "test",
    "predict": "predict",
}
# Frames of these packages are the machinery between the runner and the user's code.
_FRAMEWORK = ("pytorch_lightning", "lightning_fabric", "lighter", "torch")


def describe_position(trainer: Any) -> tuple[str, str | None]:
    """Where ``trainer`` is, e.g. ``("fit, epoch 0, step 3", "train")``: text and the mode running."""
    fn = getattr(trainer.state.fn, "value", trainer.state.fn)
    running = getattr(trainer.state.stage, "value", trainer.state.stage)
    text = f"{fn}" if fn else "the stage"
    if running is None:
        return text, None
    if running in ("sanity_check", "validate") and fn == "fit":
        text += " (sanity check)" if running == "sanity_check" else " (validation)"
    if fn == "fit":
        text += f", epoch {trainer.current_epoch}"
    if running == "train":
        text += f", step {trainer.global_step}"
    else:
        loop = getattr(trainer, "_active_loop", None)  # the running loop: its counter says which batch
        progress = getattr(getattr(loop, "batch_progress", None), "current", None)
        if progress is not None and progress.ready:
            text += f", batch {progress.ready - 1}"
    return text, _MODE_OF_STAGE.get(running)


class RecordPosition(Callback):
    """Remember where the stage was when an exception stopped it (Lightning resets its state after)."""

    def __init__(self) -> None:
        self.position: str | None = None
        self.mode: str | None = None

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self.position, self.mode = describe_position(trainer)


def write_fault(error: OSError, path: str | None = None) -> tuple[str, str]:
    """The path to name and the reason to give for a failed write (a blocking file is named itself)."""
    path = str(error.filename if path is None and error.filename else path or "")
    reason = os_reason(error)
    if Path(path).name.startswith(TEMP_PREFIX):  # lighter's own temporary name: its folder is the problem
        path = str(Path(path).parent)
    if isinstance(error, FileExistsError | NotADirectoryError) and path:
        blocker = next((p for p in [Path(path), *Path(path).parents] if p.is_file()), None)
        if blocker is not None:
            path, reason = str(blocker), "a file is in the way where a folder belongs"
    return shown_path(path), reason


def output_error(error: OSError, position: str | None, config: Mapping[str, Any]) -> OutputError | None:
    """An :class:`OutputError` for a failed write, or ``None`` when ``error`` is no such fault.

    An ``OutputError`` lighter raised itself gets the position; a plain ``OSError`` becomes one.
    Either way the config id whose path value the failing path belongs to
    (``trainer#default_root_dir``) is named when there is one.
    """
    prefix = f"during {position}: " if position else ""
    if isinstance(error, OutputError):
        error.message = prefix + error.message
        error.id = error.id or _path_id(config, error.path)
        return error
    if error.errno not in WRITE_FAULTS or not error.filename:
        return None
    path, reason = write_fault(error)
    return OutputError(f"{prefix}cannot write '{path}': {reason}", id=_path_id(config, path), path=path)


def user_code_error(
    error: BaseException,
    position: str | None,
    mode: str | None,
    where: Callable[[str], Location | None],
    datamodule: bool = False,
) -> UserCodeError:
    """The lighter line that ends the user's own traceback: the id, its location, the position.

    ``datamodule``: the data comes from the config's ``data`` (a dataloader failure is blamed on it).
    """
    config_id = blamed(error)
    if config_id is None and mode is not None and _raised_in_dataloader(error.__traceback__):
        config_id = "data" if datamodule else f"system#dataloaders#{mode}"
    text = str(error).strip().splitlines()
    message = f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
    if position:
        message = f"during {position}: {message}"
    return UserCodeError(message, id=config_id, location=where(config_id) if config_id else None)


def user_frames(error: BaseException) -> list[traceback.FrameSummary]:
    """The frames of ``error``'s traceback from the first one outside lighter, Lightning and torch.

    When every frame is the framework's (a torch loss given bad shapes), the last three remain.
    """
    frames = traceback.extract_tb(error.__traceback__)
    for index, frame in enumerate(frames):
        if not _is_framework(frame.filename):
            return frames[index:]
    return frames[-3:]


def _is_framework(filename: str) -> bool:
    return filename.startswith(_framework_folders())


@functools.cache
def _framework_folders() -> tuple[str, ...]:
    import importlib.util

    folders = []
    for package in _FRAMEWORK:
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            folders += [str(Path(p)) + "/" for p in spec.submodule_search_locations]
    return tuple(folders)


def _raised_in_dataloader(tb: TracebackType | None) -> bool:
    frames = traceback.extract_tb(tb)
    return any("torch/utils/data/" in frame.filename.replace("\\", "/") for frame in frames)


def shown_path(path: str) -> str:
    """``path`` relative to the working directory when it lies inside it (as the user wrote it)."""
    try:
        return str(Path(path).absolute().relative_to(Path.cwd()))
    except ValueError:
        return path


def _path_id(config: Mapping[str, Any], path: str | None) -> str | None:
    """The id of the trainer's path value closest to ``path``: one it lies under, or one it blocks."""
    if not path:
        return None
    target = Path(path).absolute()
    best: tuple[int, str] | None = None
    # Outputs are configured under trainer (default_root_dir, a logger's save_dir, a callback's
    # dirpath or path); elsewhere a path is an input (args#fit#ckpt_path) and not to blame.
    for id_, value in _strings(config.get("trainer") if isinstance(config, Mapping) else None, "trainer"):
        if not value or value.startswith(("$", "@", "%")) or "\n" in value:
            continue
        candidate = Path(value).absolute()
        if candidate == target or candidate in target.parents or target in candidate.parents:
            length = len(candidate.parts)
            if best is None or length > best[0]:
                best = (length, id_)
    return best[1] if best else None


def _strings(value: Any, id_: str) -> Iterable[tuple[str, str]]:
    if isinstance(value, str):
        yield id_, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{id_}#{key}" if id_ else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{id_}#{index}" if id_ else str(index))


def stage_failure(
    error: BaseException,
    position: RecordPosition,
    where: Callable[[str], Location | None],
    config: Mapping[str, Any],
) -> BaseException:
    """The error a failed build or stage ends with (the runner raises it, chained to ``error``).

    A failed write of an output becomes an :class:`OutputError`; lighter's own errors get their
    location; anything else the user's code raised is followed by a :class:`UserCodeError` line
    saying which config id ran, and when. Anything else (``SystemExit``) is returned as is.
    """
    if isinstance(error, OSError):  # lighter's own OutputError included: it gets the position here
        found = output_error(error, position.position, config)
        if found is not None:
            if found.id is not None and found.location is None:
                found.location = where(found.id)
            return found
    if isinstance(error, LighterError):
        locate_error(error, where)
        return error
    if isinstance(error, Exception):
        return user_code_error(
            error, position.position, position.mode, where, "data" in config and config["data"] is not None
        )
    return error
