"""The arguments of a ``lighter`` command: which name the config files, which are overrides.

Every command that takes a config reads its arguments the same way (:func:`split_command_line`):

- config files as positional arguments, one or several (``a.yaml b.yaml``) or comma-separated
  (``a.yaml,b.yaml``), merged in order, later files winning;
- or ``--config=FILES`` / ``--config FILES``, the original Lighter's (Python Fire's) spelling,
  which takes one value, comma-separated for several files;
- and overrides: ``--id=VALUE``, ``--id VALUE``, ``--~id``, and ``id=VALUE`` without dashes,
  before or after the config files.

A positional argument names a config when it exists (a file, or a run folder) or ends in a config
suffix; otherwise, with an ``=``, it is an override. Anything else is a mistake, reported with the
config file it is closest to, instead of being read as one or the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lighter.errors import COMMAND_LINE, OverrideError, closest

__all__ = ["CONFIG_OPTION", "split_command_line"]

CONFIG_OPTION = "--config"
_SUFFIXES = (".yaml", ".yml", ".json")


def split_command_line(command: str, args: Sequence[str]) -> tuple[str, list[str]]:
    """Split a command's arguments into its config (comma-joined paths) and its overrides.

    Args:
        command: The command's name, for the usage line in errors (``fit``, ``check`` …).
        args: The arguments after the command, in order (options the command itself declares,
            such as ``--debug``, already taken out).

    Returns:
        ``(config, overrides)``: the config files joined by commas in the order given (a single
        argument is returned as written, so a run folder stays one), and the override arguments
        in order, as :func:`lighter.config.overrides.parse_overrides` reads them.

    Raises:
        OverrideError: No config, ``--config`` without a value or given twice, config files both
            as arguments and with ``--config``, or an argument that is neither a config nor an
            override.
    """
    usage = f"lighter {command} CONFIG [--id=value ...]"
    positional: list[str] = []
    option: str | None = None
    overrides: list[str] = []
    i = 0
    while i < len(args):
        item = args[i]
        if item == CONFIG_OPTION or item.startswith(CONFIG_OPTION + "="):
            value, i = _option_value(args, i)
            if not value.strip(", "):
                raise OverrideError(
                    f"{CONFIG_OPTION} needs a value: the config file(s)",
                    location=COMMAND_LINE,
                    suggestion=f"e.g. lighter {command} --config=experiment.yaml[,more.yaml]",
                )
            if option is not None:
                raise OverrideError(
                    f"{CONFIG_OPTION} given twice ('{option}' and '{value}')",
                    location=COMMAND_LINE,
                    suggestion=f"give the files once, comma-separated: --config={option},{value}",
                )
            option = value
        elif item.startswith("-"):
            overrides.append(item)
            if _takes_next(item) and i + 1 < len(args) and not args[i + 1].startswith("--"):
                overrides.append(args[i + 1])  # `--id VALUE`: the value travels with its id
                i += 1
        elif _names_config(item, first=not positional and option is None):
            positional.append(item)
        elif "=" in item:
            overrides.append(item)  # `id=VALUE`, the form without dashes
        else:
            raise _neither(item)
        i += 1
    if option is not None and positional:
        raise OverrideError(
            f"config given twice: as {', '.join(repr(p) for p in positional)} and as --config={option}",
            location=COMMAND_LINE,
            suggestion=f"give the files one way, e.g. lighter {command} {','.join([option, *positional])}",
        )
    if option is None and not positional:
        raise OverrideError("no CONFIG given", location=COMMAND_LINE, suggestion=usage)
    config = option if option is not None else ",".join(positional)
    return config, overrides


def _option_value(args: Sequence[str], i: int) -> tuple[str, int]:
    """The value of ``--config`` at ``args[i]`` (``=VALUE`` or the next argument), and where it ended."""
    item = args[i]
    if "=" in item:
        return item.partition("=")[2], i
    if i + 1 < len(args) and not args[i + 1].startswith("-"):
        return args[i + 1], i + 1
    return "", i


def _takes_next(item: str) -> bool:
    """Whether ``--id`` (no ``=``) takes the next argument as its value; ``--~id`` never does."""
    body = item[2:] if item.startswith("--") else ""
    return bool(body) and "=" not in body and not body.startswith("~")


def _names_config(item: str, *, first: bool) -> bool:
    """Whether the positional ``item`` names config files (or a run folder) rather than an override."""
    parts = [p for p in item.split(",") if p.strip()]
    if Path(item).exists() or (parts and all(Path(p.strip()).exists() for p in parts)):
        return True
    if "=" in item:
        return False
    # A file that is missing is still meant as one: the loader says so, with the closest name.
    return first or all(Path(p.strip()).suffix.lower() in _SUFFIXES for p in parts)


def _neither(item: str) -> OverrideError:
    path = Path(item)
    siblings: dict[str, str] = {}  # a config file by its name and by its stem (`exp` for `exp.yaml`)
    if path.parent.is_dir():
        for found in sorted(path.parent.iterdir()):
            if found.suffix.lower() in _SUFFIXES:
                shown = str(path.parent / found.name) if str(path.parent) != "." else found.name
                siblings.setdefault(found.name, shown)
                siblings.setdefault(found.stem, shown)
    near = closest(path.name, siblings, n=1, cutoff=0.6)
    return OverrideError(
        f"'{item}' is neither a config file nor an override",
        location=COMMAND_LINE,
        suggestion=f"did you mean '{siblings[near[0]]}'?"
        if near
        else "an override is written --ID=VALUE, e.g. --trainer#max_epochs=10",
    )
