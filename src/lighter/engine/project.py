"""Import the user's ``project`` folder as the module ``project`` (SPEC §2).

A config can then name the user's own code as ``project.models.MyNet``. A relative folder is
looked for against the working directory and against the first config file's folder; the one of
the two that holds an ``__init__.py`` is used, so ``project: ../`` works when run from the config's
own folder or from anywhere else. When both hold a package and they differ, nothing is guessed: it
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

from lighter.atomic import atomic_write
from lighter.errors import ConfigError, Location

__all__ = ["MODULE_NAME", "find_project", "import_project", "load_project"]

MODULE_NAME = "project"

# What a spawned process imports as `project`: it loads the folder as the parent did.
_SHIM = """\
# Written by lighter: a process started with "spawn" imports `project` from here, and this loads
# the project folder {folder!r} as the module `project`, as its parent process did.
from lighter.engine.project import load_project

load_project({folder!r})
"""

# The generated folder on sys.path and the project folder it loads (one per process at most).
_shim: tuple[Path, Path] | None = None


def find_project(
    path: str | Path, config_files: Sequence[str | Path] = (), *, location: Location | None = None
) -> Path:
    """Return the project folder that ``path`` names.

    Args:
        path: The ``project`` value of the config.
        config_files: The config files, in order; a relative ``path`` is tried against the working
            directory, then the first file's folder.
        location: Where ``project`` was written, for the error.

    Raises:
        ConfigError: No candidate is a package (the message lists each folder tried and says
            which exist without an ``__init__.py``), or both are, and they differ.
    """
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


def import_project(folder: Path, *, location: Location | None = None) -> ModuleType:
    """Import ``folder`` as the module ``project``, for this process and the ones it spawns.

    A previously imported ``project`` from another folder (and its submodules) is replaced, so two
    runs in one process do not mix their projects' code.

    Raises:
        ConfigError: Importing the folder raised; the original exception is chained.
    """
    module = load_project(folder, location=location)
    _expose_to_spawned_processes(Path(folder))
    return module


def load_project(folder: str | Path, *, location: Location | None = None) -> ModuleType:
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
        raise ConfigError(f"cannot import project folder '{folder}'", id="project", location=location)
    module = importlib.util.module_from_spec(spec)
    # Registered before executing, so `from project.models import X` inside the package works.
    sys.modules[MODULE_NAME] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[MODULE_NAME]
        raise ConfigError(
            f"importing project folder '{folder}' failed: {type(error).__name__}: {error}",
            id="project",
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
