"""Resume a run by its folder: ``lighter fit RUN_FOLDER [--id=value ...]``.

A run folder (see :mod:`lighter.engine.run_folder`) holds everything needed to continue: the
``config.yaml`` the run was made with (seed included) and its checkpoints. Continuing means running
``fit`` again on that config, with any new overrides (``--trainer#max_epochs=20``), from its last
checkpoint, writing into the same folder. Pure file-system work here: nothing heavy is imported.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lighter.atomic import TEMP_PREFIX
from lighter.engine.stages import Stage
from lighter.errors import COMMAND_LINE, StageError

__all__ = ["Resume", "LAST", "plan_resume", "find_checkpoint", "names_ckpt_path"]

CONFIG_FILE = "config.yaml"  # as lighter.engine.reproduce writes it (not imported: it loads Lightning)
CHECKPOINTS = "checkpoints"
LAST = "last.ckpt"


@dataclass(frozen=True)
class Resume:
    """What continuing a run needs.

    Attributes:
        folder: The run folder (absolute).
        config: Its ``config.yaml``.
        checkpoint: The checkpoint to continue from; ``None`` when the overrides name one.
    """

    folder: Path
    config: Path
    checkpoint: Path | None


def names_ckpt_path(overrides: Sequence[str]) -> bool:
    """Whether ``overrides`` set ``args#fit#ckpt_path`` (the user's choice then wins over the folder's)."""
    for override in overrides:
        key = override.lstrip("-").split("=", 1)[0].replace("::", "#")
        if key.lstrip("=+") == "args#fit#ckpt_path":
            return True
    return False


def find_checkpoint(folder: Path) -> Path | None:
    """``folder/checkpoints/last.ckpt``, else the newest checkpoint there, else ``None``."""
    checkpoints = folder / CHECKPOINTS
    if (checkpoints / LAST).is_file():
        return checkpoints / LAST
    found = [
        path
        for path in checkpoints.glob("*.ckpt")
        if path.is_file() and not path.name.startswith((TEMP_PREFIX, "."))  # half-written or hidden
    ]
    return max(found, key=lambda path: path.stat().st_mtime_ns, default=None)


def plan_resume(config: str | os.PathLike[str], stage: Stage, overrides: Sequence[str] = ()) -> Resume | None:
    """Return how to resume when ``config`` names a folder for ``fit``, ``None`` otherwise (config file(s), another stage).

    Raises:
        StageError: The folder is not a run folder (no ``config.yaml``) or has no checkpoint.
    """
    text = os.fspath(config)
    if "," in text or not Path(text).is_dir():
        return None
    folder = Path(os.path.abspath(text))
    saved = folder / CONFIG_FILE
    if stage is not Stage.FIT:
        return None  # the evaluating stages take the folder too (lighter.engine.evaluate)
    if not saved.is_file():
        raise StageError(
            f"'{text}' is not a run folder: it has no {CONFIG_FILE}",
            location=COMMAND_LINE,
            suggestion="give a folder lighter printed as 'Run folder:', or a config file",
        )
    if names_ckpt_path(overrides):
        return Resume(folder, saved, None)
    checkpoint = find_checkpoint(folder)
    if checkpoint is None:
        raise StageError(
            f"run folder '{text}' has no checkpoint to resume from (looked for *.ckpt in {folder / CHECKPOINTS})",
            location=COMMAND_LINE,
            suggestion=f"start it again with lighter fit {Path(text) / CONFIG_FILE}, "
            "or name one with --args#fit#ckpt_path=PATH",
        )
    return Resume(folder, saved, checkpoint)
