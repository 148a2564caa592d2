"""The run record ``run.json``: what ran in a run folder, how, and how it ended.

Every stage that runs on a run folder adds one entry to its record: the command line, the config
files and overrides, when it started and ended, its outcome (completed, failed with the error's
first line, interrupted by which signal), the project's git commit, the versions, host, world
size and seed, the best checkpoint and the final metrics. The top of the record holds the run's
config flattened to one entry per value (``system#optimizer#lr``) and where each value was written,
so ``lighter runs`` compares runs without reading a config or importing torch.

The layout is fixed by ``lighter_record`` (:data:`RECORD_VERSION`); a reader refuses a record a
newer lighter wrote. The file is replaced atomically, so a reader sees the old or the new record,
and a change is a read-modify-write under a lock, so two stages finishing at once both keep their
entries. Only process 0 of a multi-process run writes. Nothing here imports torch or Lightning.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lighter.atomic import atomic_write, os_reason
from lighter.errors import COMMAND_LINE, Location, OutputError, StageError

__all__ = [
    "RECORD_FILE",
    "RECORD_VERSION",
    "flat_config",
    "flat_sources",
    "git_state",
    "versions",
    "read_record",
    "check_record",
    "start_entry",
    "finish_entry",
    "shown_command",
    "now",
    "host",
]

RECORD_FILE = "run.json"
RECORD_VERSION = 1
"""The layout of the record this lighter writes (``lighter_record``); readers refuse larger ones."""

_GIT_TIMEOUT_S = 5


def now() -> str:
    """The current time in ISO 8601, UTC, to the millisecond."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _json_value(value: Any) -> Any:
    """``value`` as JSON writes it faithfully: plain scalars kept, anything else as ``str()``."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)  # JSON has no NaN or infinity
    return str(value)


def flat_config(config: Mapping[str, Any], separator: str = "#") -> dict[str, Any]:
    """``config`` as one entry per leaf value: ``{"system#optimizer#lr": 0.003, "trainer#callbacks#0#monitor": ...}``.

    Lists are indexed by position; an empty mapping or list is a leaf (``{}``/``[]``), so it is
    not lost. Values are JSON-safe (anything but a plain scalar becomes its ``str()``).
    """
    flat: dict[str, Any] = {}

    def walk(value: Any, prefix: str) -> None:
        items = (
            value.items()
            if isinstance(value, Mapping)
            else enumerate(value)
            if isinstance(value, list | tuple)
            else None
        )
        if items is None or not value:
            flat[prefix] = _json_value(value) if items is None else ({} if isinstance(value, Mapping) else [])
            return
        for key, item in items:
            walk(item, f"{prefix}{separator}{key}" if prefix else str(key))

    for key, value in config.items():
        walk(value, str(key))
    return flat


def flat_sources(flat: Mapping[str, Any], locate: Callable[[str], Location | str | None]) -> dict[str, str]:
    """Where each of ``flat``'s ids was written (``exp.yaml:14`` or ``command line``); unknown ones are left out."""
    from lighter.config.render import location_text

    sources = {}
    for id_ in flat:
        text = location_text(locate(id_))
        if text is not None:
            sources[id_] = text
    return sources


def git_state(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """``{"commit": ..., "dirty": ...}`` of the git checkout holding ``folder``; ``None`` when there is none.

    ``None`` also when git is missing or does not answer within a few seconds: the record must
    never hold a run up.
    """

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", os.fspath(folder), *args],
                capture_output=True,
                text=True,
                timeout=_GIT_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None or not commit.strip():
        return None
    status = git("status", "--porcelain")
    return {"commit": commit.strip(), "dirty": bool(status.strip()) if status is not None else None}


def versions() -> dict[str, str | None]:
    """The versions of lighter, torch, Lightning and Python (read from the installed packages)."""
    from importlib import metadata

    from lighter._version import __version__

    def installed(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {
        "lighter": __version__,
        "torch": installed("torch"),
        "pytorch_lightning": installed("pytorch-lightning") or installed("lightning"),
        "python": platform.python_version(),
    }


def shown_command(argv: Sequence[str] | None = None) -> list[str]:
    """The command line as typed, ``argv[0]`` shortened to ``lighter`` when it is the console script."""
    argv = list(sys.argv if argv is None else argv)
    if argv and (
        Path(argv[0]).name == "lighter" or argv[0].endswith(("lighter/__main__.py", "lighter/cli.py"))
    ):
        argv[0] = "lighter"
    return argv


def _bad_record(path: Path, problem: str) -> StageError:
    return StageError(
        f"the run record {path} {problem}",
        location=COMMAND_LINE,
        suggestion=f"move {path.name} aside to run on this folder anyway",
    )


def read_record(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The record in ``folder`` (``None`` when it has none).

    Raises:
        StageError: The record cannot be read, is not valid JSON (half-written by a lighter that
            was killed mid-write, or edited by hand), or a newer lighter wrote it.
    """
    path = Path(folder) / RECORD_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise _bad_record(path, f"cannot be read: {os_reason(error)}") from error
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise _bad_record(path, f"is not valid JSON (line {error.lineno}: {error.msg})") from error
    if not isinstance(record, dict) or not isinstance(record.get("entries", []), list):
        raise _bad_record(path, "is not a lighter run record")
    version = record.get("lighter_record")
    if not isinstance(version, int) or isinstance(version, bool):
        raise _bad_record(path, "is not a lighter run record (no lighter_record number)")
    if version > RECORD_VERSION:
        raise StageError(
            f"the run record {path} was written by a newer lighter (record version {version}; "
            f"this lighter reads up to {RECORD_VERSION})",
            location=COMMAND_LINE,
            suggestion="upgrade lighter to run stages on this folder",
        )
    return record


def check_record(folder: str | os.PathLike[str]) -> None:
    """Refuse, before anything runs, a folder whose record this lighter cannot extend (see :func:`read_record`)."""
    read_record(folder)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` for a read-modify-write of its record.

    The folder itself is locked (``flock`` on its descriptor), so no lock file is left behind;
    where that is not supported, atomic replacement still keeps the file whole.
    """
    try:
        import fcntl

        fd = os.open(folder, os.O_RDONLY)
    except (ImportError, OSError):
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _write(folder: Path, record: Mapping[str, Any]) -> None:
    path = folder / RECORD_FILE
    try:
        atomic_write(path, json.dumps(record, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    except OSError as error:
        raise OutputError(
            f"cannot write the run record {path}: {os_reason(error)}", path=str(path)
        ) from error


def start_entry(
    folder: str | os.PathLike[str],
    entry: Mapping[str, Any],
    config: Mapping[str, Any] | None = None,
    sources: Mapping[str, str] | None = None,
    *,
    replace_config: bool = False,
) -> int:
    """Add ``entry`` (outcome ``running``) to ``folder``'s record, creating the record if needed.

    Args:
        folder: The run folder.
        entry: The entry's fields (see the record schema); ``outcome`` is set to ``running``.
        config: The run's flat config, for a new record (an existing one keeps its own: a stage
            run on the folder later does not change what the run was).
        sources: Where each flat value came from, with ``config``.
        replace_config: Replace an existing record's ``config`` and ``sources`` (a continued fit
            changes the run's config, as it changes its ``config.yaml``).

    Returns:
        The entry's index in ``entries``, for :func:`finish_entry`.
    """
    folder = Path(folder)
    with _locked(folder):
        record = read_record(folder)
        if record is None:
            record = {
                "lighter_record": RECORD_VERSION,
                "run_folder": os.path.abspath(folder),
                "config": dict(config or {}),
                "sources": dict(sources or {}),
                "entries": [],
            }
        elif replace_config and config is not None:
            record["config"], record["sources"] = dict(config), dict(sources or {})
        record["entries"].append({**entry, "outcome": "running"})
        _write(folder, record)
        return len(record["entries"]) - 1


def finish_entry(folder: str | os.PathLike[str], index: int, **fields: Any) -> None:
    """Complete entry ``index`` of ``folder``'s record with ``fields`` (``outcome``, ``ended``, ``metrics`` …).

    ``duration_s`` is computed from the entry's ``started`` and the given ``ended``.
    """
    folder = Path(folder)
    with _locked(folder):
        record = read_record(folder)
        if record is None or not 0 <= index < len(record["entries"]):
            return  # removed while the stage ran: nothing to complete
        entry = record["entries"][index]
        entry.update(fields)
        with contextlib.suppress(TypeError, ValueError):
            started = datetime.fromisoformat(entry["started"])
            entry["duration_s"] = round((datetime.fromisoformat(entry["ended"]) - started).total_seconds(), 3)
        if "metrics" in fields:
            entry["metrics"] = {name: _json_value(value) for name, value in fields["metrics"].items()}
        _write(folder, record)


def host() -> str:
    """This machine's name."""
    return socket.gethostname()
