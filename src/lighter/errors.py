"""Errors raised by lighter.

Every user mistake is a :class:`LighterError`. Errors are data: they carry the config ``id`` the
problem is about, the ``location`` where it was written (file, line, column, or "command line")
and an optional ``suggestion``. One helper, :func:`format_error`, turns them into text, so every
message starts the same way::

    experiment.yaml:23 @ system#optimizer: torch.optim.Adam got an unexpected argument 'learning_rate' (did you mean 'lr'?)

Where it fits, subclasses also derive from the matching builtin (``KeyError``, ``ImportError`` …)
so that callers can catch them naturally.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "Location",
    "COMMAND_LINE",
    "LighterError",
    "ConfigError",
    "ConfigSyntaxError",
    "DuplicateKeyError",
    "ConfigFileNotFoundError",
    "ConfigReadError",
    "MissingReferenceError",
    "CircularReferenceError",
    "RelativeIdError",
    "TargetImportError",
    "ArgumentError",
    "ExpressionError",
    "InstantiationError",
    "OverrideError",
    "ValidationError",
    "StageError",
    "SystemError_",
    "AdapterError",
    "WriterError",
    "MissingDependencyError",
    "OutputError",
    "Interrupted",
    "UserCodeError",
    "UnsafeConfigError",
    "blame",
    "blamed",
    "did_you_mean",
    "closest",
    "format_error",
]


@dataclass(frozen=True)
class Location:
    """Where a config value was written.

    Attributes:
        file: Path of the file as the user gave it, or a label such as ``"command line"``.
        line: 1-based line number, if known.
        column: 1-based column number, if known.
    """

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


COMMAND_LINE = Location("command line")


def closest(name: str, candidates: Iterable[str], n: int = 1, cutoff: float = 0.6) -> list[str]:
    """Return up to ``n`` candidates closest to ``name`` (difflib ratio ≥ ``cutoff``)."""
    return difflib.get_close_matches(str(name), [str(c) for c in candidates], n=n, cutoff=cutoff)


def did_you_mean(name: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """Return ``"did you mean 'x'?"`` for the closest candidate, or ``None`` if none is close."""
    match = closest(name, candidates, n=1, cutoff=cutoff)
    return f"did you mean '{match[0]}'?" if match else None


def format_error(
    message: str,
    *,
    id: str | None = None,  # noqa: A002 - mirrors the config vocabulary
    location: Location | str | None = None,
    suggestion: str | None = None,
    details: str | None = None,
) -> str:
    """Format an error as ``LOCATION @ ID: MESSAGE (SUGGESTION)`` plus optional detail lines."""
    prefix = ""
    if location is not None:
        prefix = f"{location}"
    if id is not None:
        prefix = f"{prefix} @ {id}" if prefix else f"@ {id}"
    first = f"{prefix}: {message}" if prefix else message
    if suggestion:
        first = f"{first} ({suggestion})"
    if details:
        return first + "\n" + "\n".join("  " + line for line in details.splitlines())
    return first


class LighterError(Exception):
    """Base class of every error lighter raises for a user mistake.

    Args:
        message: What went wrong, in one line.
        id: The config id concerned (``system#optimizer``), if any.
        location: Where the offending value was written, if known.
        suggestion: A short hint, e.g. ``"did you mean 'lr'?"``.
        details: Further lines (a cycle, an expression, the original error).
    """

    def __init__(
        self,
        message: str,
        *,
        id: str | None = None,  # noqa: A002
        location: Location | str | None = None,
        suggestion: str | None = None,
        details: str | None = None,
    ) -> None:
        self.message = message
        self.id = id
        self.location = location
        self.suggestion = suggestion
        self.details = details
        super().__init__(message)

    def __str__(self) -> str:
        return format_error(
            self.message, id=self.id, location=self.location, suggestion=self.suggestion, details=self.details
        )

    def __reduce__(self):  # keep errors picklable (DDP children, multiprocessing)
        return (
            _rebuild,
            (type(self), self.message, self.id, self.location, self.suggestion, self.details),
        )


def _rebuild(cls, message, id_, location, suggestion, details):  # noqa: ANN001
    return cls(message, id=id_, location=location, suggestion=suggestion, details=details)


# --- config engine -------------------------------------------------------------------------------


class ConfigError(LighterError):
    """A problem in a config: its syntax, its references or its components."""


class ConfigSyntaxError(ConfigError, ValueError):
    """A YAML/JSON file that does not parse (location has line and column)."""


class DuplicateKeyError(ConfigSyntaxError):
    """A key written twice in one mapping, when ``MONAI_FAIL_ON_DUPLICATE_CONFIG=1`` makes that an error."""


class ConfigFileNotFoundError(ConfigError, FileNotFoundError):
    """A config file (or a file named in a ``%file.yaml#id`` macro) that does not exist."""


class ConfigReadError(ConfigError, OSError):
    """A config file that exists but cannot be read: a folder, no permission, a symlink loop."""


class MissingReferenceError(ConfigError, KeyError, ValueError):
    """An ``@id``/``%id`` (or ``get_parsed_content(id)``) naming an id that does not exist.

    Also a ``ValueError``: ``monai.bundle`` raises one for a missing reference.
    """


class CircularReferenceError(ConfigError, ValueError):
    """References that form a cycle; ``details`` shows the cycle (a ``ValueError``, as in MONAI)."""


class RelativeIdError(ConfigError, KeyError):
    """A relative id (``@##x``) that climbs above the root."""


class TargetImportError(ConfigError, ModuleNotFoundError):
    """A ``_target_`` that cannot be imported (a ``ModuleNotFoundError``, as ``monai.bundle`` raises)."""


class ArgumentError(ConfigError, TypeError, RuntimeError):
    """Component arguments that do not fit the target's signature.

    Also a ``RuntimeError``: ``monai.bundle`` reports a wrong argument as a failed instantiation.
    """


class ExpressionError(ConfigError, RuntimeError):
    """A ``$`` expression that fails to evaluate (a ``RuntimeError``, as in MONAI)."""


class InstantiationError(ConfigError, RuntimeError):
    """A component whose constructor raised; the original exception is chained (a ``RuntimeError``,
    as in MONAI)."""


class OverrideError(ConfigError, ValueError):
    """A malformed command-line override, or one that creates a key close to an existing one."""


class ValidationError(ConfigError):
    """Several problems found at once while validating a config's structure.

    Args:
        errors: The individual problems, each a :class:`LighterError` with its own id/location.
    """

    def __init__(self, errors: Sequence[LighterError]) -> None:
        self.errors = list(errors)
        first = self.errors[0] if self.errors else None
        super().__init__(
            first.message if first else "invalid config",
            id=first.id if first else None,
            location=first.location if first else None,
            suggestion=first.suggestion if first else None,
        )

    def __str__(self) -> str:
        lines = [str(e) for e in self.errors]
        if len(lines) > 1:
            lines.append(f"({len(lines)} problems in the config)")
        return "\n".join(lines)

    def __reduce__(self):
        return (type(self), (self.errors,))


# --- system, runner, callbacks -------------------------------------------------------------------


class StageError(LighterError):
    """A stage that cannot run with the given config (a part it needs is missing)."""


class SystemError_(LighterError, ValueError):  # noqa: N801 - builtin SystemError exists
    """A System built with parts that do not fit together (e.g. a dict loss without ``total``)."""


class AdapterError(LighterError, ValueError):
    """An adapter whose settings do not fit each other or the batch it is given."""


class WriterError(LighterError, ValueError):
    """A writer that cannot write what it is given."""


class MissingDependencyError(LighterError, ImportError):
    """An optional package that a feature needs is not installed; the suggestion says how to."""


class OutputError(LighterError, OSError):
    """A file or folder lighter must write (a checkpoint, a run folder) cannot be written.

    The message names the path and the operating system's reason ("no space left on device",
    "file too large", "permission denied"); nothing was left half-written.

    Attributes:
        path: The file or folder that could not be written.
    """

    def __init__(self, message: str, *, path: str | None = None, **kwargs) -> None:  # noqa: ANN003
        super().__init__(message, **kwargs)
        self.path = path


class Interrupted(LighterError):
    """The run was stopped by a signal (SIGTERM from a scheduler, SIGINT from Ctrl+C).

    Attributes:
        exit_status: What the command exits with: ``128 + signal number`` (143, 130), as a shell
            reports a process the signal ended.
    """

    def __init__(self, message: str, *, exit_status: int, **kwargs) -> None:  # noqa: ANN003
        super().__init__(message, **kwargs)
        self.exit_status = exit_status

    def __reduce__(self):
        return (_rebuild_interrupted, (self.message, self.exit_status, self.details))


def _rebuild_interrupted(message, exit_status, details):  # noqa: ANN001
    return Interrupted(message, exit_status=exit_status, details=details)


class UserCodeError(LighterError):
    """Code the config points at (a model, a criterion, a dataset) raised while a stage ran.

    The original exception is the ``__cause__``: its traceback is the user's code and is worth
    showing; this error adds the config id that was running, where it was written, and the
    stage, epoch and step.
    """


class UnsafeConfigError(ConfigError):
    """In safe mode: a config value that would run code the user has not allowed."""


_BLAME = "_lighter_config_id"


def blame(error: BaseException, config_id: str) -> None:
    """Mark ``error`` (any exception) as raised by the config part at ``config_id``.

    The System marks what its parts raise, so the runner can end the user's traceback with the id
    that was running. The innermost part to mark an error wins.
    """
    if getattr(error, _BLAME, None) is None:
        try:
            setattr(error, _BLAME, config_id)
        except AttributeError:  # an exception type with __slots__ stays unattributed
            pass


def blamed(error: BaseException) -> str | None:
    """The config id :func:`blame` marked ``error`` with, if any."""
    return getattr(error, _BLAME, None)
