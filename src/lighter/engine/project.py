"""Import the user's ``project`` folder as the module ``project`` (SPEC §2).

A config can then name the user's own code as ``project.models.MyNet``. A relative folder is
looked for against the working directory and against the first config file's folder; the one of
the two that holds an ``__init__.py`` is used, so ``project: ../`` works when run from the config's
own folder or from anywhere else. When both hold a package and they differ, nothing is guessed: it
is an error naming both.

Without a ``project`` key, the folder is the nearest one holding a ``__lighter__.py`` marker (the
habit of upstream Lighter 0.1): the first config file's folder or one above it, else the working
directory. The marker is never run (it is only compiled, so that a broken one is reported); the
folder's ``__init__.py`` is imported as for the key. A key and a marker naming different folders
is an error naming both.

Processes started with ``spawn`` (DataLoader workers with ``multiprocessing_context: spawn``, the
macOS and Windows default; ``strategy: ddp_spawn``) do not inherit the parent's modules, only its
``sys.path``: they import ``project`` again to unpickle a project object. So the parent also puts
a small generated package named ``project`` in a private temporary folder at the front of
``sys.path``; importing it in a child loads the same project folder, the same way.
"""

from __future__ import annotations

import atexit
import importlib.util
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from lighter.atomic import atomic_write
from lighter.errors import ConfigError, Location, UnsafeConfigError

__all__ = [
    "MODULE_NAME",
    "MARKER",
    "find_marker",
    "find_project",
    "import_configured_project",
    "project_site",
    "import_project",
    "load_project",
]

MODULE_NAME = "project"
MARKER = "__lighter__.py"

# What a spawned process imports as `project`: it loads the folder as the parent did.
_SHIM = """\
# Written by lighter: a process started with "spawn" imports `project` from here, and this loads
# the project folder {folder!r} as the module `project`, as its parent process did.
from lighter.engine.project import load_project

load_project({folder!r})
"""

# The generated folder on sys.path and the project folder it loads (one per process at most).
_shim: tuple[Path, Path] | None = None


def find_marker(config_files: Sequence[str | Path] = ()) -> Path | None:
    """The nearest folder holding a ``__lighter__.py``: the first config file's folder or one above
    it, else the working directory; ``None`` when there is none."""
    if config_files:
        start = Path(config_files[0]).resolve().parent
        for folder in (start, *start.parents):
            if (folder / MARKER).is_file():
                return folder
    here = Path.cwd().resolve()
    return here if (here / MARKER).is_file() else None


def find_project(
    path: str | Path | None, config_files: Sequence[str | Path] = (), *, location: Location | None = None
) -> Path | None:
    """Return the project folder of a config: the one ``path`` names, else the nearest marker's.

    Args:
        path: The ``project`` value of the config, or ``None`` when it has none.
        config_files: The config files, in order; a relative ``path`` is tried against the working
            directory, then the first file's folder, and the marker is looked for from the first
            file's folder (see :func:`find_marker`).
        location: Where ``project`` was written, for the error.

    Returns:
        The folder, or ``None`` when there is no ``project`` key and no marker.

    Raises:
        ConfigError: No candidate is a package (the message lists each folder tried and says
            which exist without an ``__init__.py``), or both are, and they differ; a marker's folder
            is no package or its marker does not compile; ``path`` and a marker name different folders.
    """
    marker = find_marker(config_files)
    if path is None:
        if marker is not None:
            _check_marker(marker)
        return marker
    folder = _named_folder(path, config_files, location=location)
    if marker is not None and marker != folder:
        raise ConfigError(
            f"project folder '{path}' is {folder}, but {marker / MARKER} marks {marker} as the project",
            id="project",
            location=location,
            suggestion=f"remove one: the project key, or the marker {marker / MARKER}",
        )
    return folder


def _check_marker(folder: Path) -> None:
    """A marked folder must be a package, and its marker Python (it is compiled, never run)."""
    marker = folder / MARKER
    where = Location(str(marker))
    if not (folder / "__init__.py").is_file():
        raise ConfigError(
            f"{marker} marks {folder} as the project folder, but it has no __init__.py",
            location=where,
            suggestion=f"create {folder / '__init__.py'}, it may be empty",
        )
    try:
        compile(marker.read_bytes(), str(marker), "exec")
    except SyntaxError as error:
        raise ConfigError(
            f"the project marker does not compile: SyntaxError: {error.msg}",
            location=Location(str(marker), error.lineno, error.offset),
        ) from error
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot read the project marker: {error}", location=where) from error


def import_configured_project(parser: Any, *, safe: bool | None = None) -> Path | None:
    """Import the project folder of ``parser``'s config (see :func:`find_project`); return it.

    Args:
        parser: The config (a :class:`~lighter.config.ConfigParser`).
        safe: Refuse a marker's folder unless ``project`` is allowed (``None``: the parser's own
            safe mode). A ``project`` key is judged by safe mode with the rest of the config.

    Raises:
        ConfigError: See :func:`find_project`; importing the folder raised.
        UnsafeConfigError: In safe mode, a marker's folder when ``project`` is not allowed.
    """
    path = parser.get("project")
    location = parser.location("project") if path is not None else None
    folder = find_project(path, parser.files, location=location)
    if folder is None:
        return None
    if path is None:
        location = Location(str(folder / MARKER))
        safe = parser.safe if safe is None else safe
        if safe and MODULE_NAME not in _allowed(parser.allow):
            raise UnsafeConfigError(_marker_refusal(folder), location=location)
    import_project(folder, location=location, id_="project" if path is not None else None)
    return folder


def project_site(parser: Any, allow: Sequence[str]) -> Any:
    """For ``lighter check --safe``: the folder a marker would import, as a code site (``None``
    when the config has a ``project`` key, which safe mode lists itself, or there is no marker)."""
    if parser.get("project") is not None:
        return None
    folder = find_marker(parser.files)
    if folder is None:
        return None
    from lighter.config.safety import CodeSite

    refusal = None if MODULE_NAME in allow else _marker_refusal(folder)
    return CodeSite("project", "project", str(folder), Location(str(folder / MARKER)), refusal)


def _marker_refusal(folder: Path) -> str:
    return (
        f"safe mode refuses importing the project folder '{folder}' (marked by {MARKER}; "
        "allow it with --allow project)"
    )


def _allowed(allow: Any) -> tuple[str, ...]:
    if allow is not None:
        return tuple(allow)
    from lighter.config.safety import DEFAULT_ALLOW

    return tuple(DEFAULT_ALLOW)


def _named_folder(path: str | Path, config_files: Sequence[str | Path], *, location: Location | None) -> Path:
    """The package folder that a ``project`` value names (see the module docstring)."""
    given = Path(path).expanduser()
    candidates = [given] if given.is_absolute() else [Path.cwd() / given]
    config_folder = Path(config_files[0]).resolve().parent if config_files else None
    if not given.is_absolute() and config_folder is not None:
        candidates.append(config_folder / given)
    candidates = list(dict.fromkeys(c.resolve() for c in candidates))
    # A folder that is no package is skipped, not fatal: `project: ../` run from the repository
    # root names the root's parent first, and the config's own folder must still be tried.
    packages = [folder for folder in candidates if (folder / "__init__.py").is_file()]
    if len(packages) > 1:
        # Importing either could run another project's code and fail far from here: never guess.
        here, there = packages
        raise ConfigError(
            f"project folder '{path}' names two different packages: {here} (from the working "
            f"directory) and {there} (from the folder of {config_files[0]})",
            id="project",
            location=location,
            suggestion=f"give an absolute path, e.g. --project={there}, or run from {config_folder}",
        )
    if packages:
        return packages[0]
    bare = [c for c in candidates if c.is_dir()]
    if not bare:
        tried = ", ".join(str(c) for c in candidates)
        raise ConfigError(
            f"project folder '{path}' does not exist (looked in {tried})", id="project", location=location
        )
    tried = "; ".join(f"{c} has no __init__.py" if c in bare else f"{c} does not exist" for c in candidates)
    raise ConfigError(
        f"project folder '{path}' is not a Python package: {tried}",
        id="project",
        location=location,
        suggestion=f"create {bare[0] / '__init__.py'}, it may be empty",
    )


def import_project(
    folder: Path, *, location: Location | None = None, id_: str | None = "project"
) -> ModuleType:
    """Import ``folder`` as the module ``project``, for this process and the ones it spawns.

    A previously imported ``project`` from another folder (and its submodules) is replaced, so two
    runs in one process do not mix their projects' code.

    Raises:
        ConfigError: Importing the folder raised; the original exception is chained.
    """
    module = load_project(folder, location=location, id_=id_)
    _expose_to_spawned_processes(Path(folder))
    return module


def load_project(
    folder: str | Path, *, location: Location | None = None, id_: str | None = "project"
) -> ModuleType:
    """Load ``folder`` as the module ``project`` in this process only (see :func:`import_project`).

    Also what a spawned process runs when it first imports ``project``: the generated package
    replaces itself in ``sys.modules`` with the real one, which Python's import then returns.

    Raises:
        ConfigError: Importing the folder raised; the original exception is chained.
    """
    folder = Path(folder)
    init = folder / "__init__.py"
    current = sys.modules.get(MODULE_NAME)
    if current is not None and getattr(current, "__file__", None) == str(init):
        return current
    for name in [n for n in sys.modules if n == MODULE_NAME or n.startswith(MODULE_NAME + ".")]:
        del sys.modules[name]
    spec = importlib.util.spec_from_file_location(MODULE_NAME, init, submodule_search_locations=[str(folder)])
    if spec is None or spec.loader is None:  # only for paths Python cannot load at all
        raise ConfigError(f"cannot import project folder '{folder}'", id=id_, location=location)
    module = importlib.util.module_from_spec(spec)
    # Registered before executing, so `from project.models import X` inside the package works.
    sys.modules[MODULE_NAME] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[MODULE_NAME]
        if isinstance(error, SyntaxError) and error.filename:  # point at the broken line itself
            location = Location(error.filename, error.lineno, error.offset)
        raise ConfigError(
            f"importing project folder '{folder}' failed: {type(error).__name__}: {error}",
            id=id_,
            location=location,
        ) from error
    return module


def _expose_to_spawned_processes(folder: Path) -> None:
    """Put a generated ``project`` package that loads ``folder`` at the front of ``sys.path``.

    Spawned processes receive the parent's ``sys.path`` (multiprocessing sends it before it
    unpickles anything), so they find this package before any other ``project``.
    """
    global _shim
    if _shim is not None and _shim[1] == folder and str(_shim[0]) in sys.path:
        return
    _remove_shim()
    # A private folder (mode 0700): no other user can plant code that this process would import.
    shim = Path(tempfile.mkdtemp(prefix="lighter-project-"))
    (shim / MODULE_NAME).mkdir()
    atomic_write(shim / MODULE_NAME / "__init__.py", _SHIM.format(folder=str(folder)))
    sys.path.insert(0, str(shim))
    _shim = (shim, folder)
    atexit.unregister(_remove_shim)  # once, however many projects this process imports
    atexit.register(_remove_shim)


def _remove_shim() -> None:
    """Take the generated package off ``sys.path`` and delete it (at exit, or for another project)."""
    global _shim
    if _shim is None:
        return
    shim = str(_shim[0])
    while shim in sys.path:
        sys.path.remove(shim)
    shutil.rmtree(shim, ignore_errors=True)
    _shim = None
