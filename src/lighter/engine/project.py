"""Import the user's ``project`` folder as the module ``project`` (SPEC §2).

A config can then name the user's own code as ``project.models.MyNet``. The folder is found
relative to the working directory first, then to the first config file's folder (the first of the
two that holds an ``__init__.py``), so ``project: ../`` works when run from the config's own folder
or from anywhere else.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from lighter.errors import ConfigError, Location

__all__ = ["MODULE_NAME", "find_project", "import_project"]

MODULE_NAME = "project"


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
        ConfigError: No candidate is a package; the message lists each folder tried and says
            which exist without an ``__init__.py``.
    """
    given = Path(path).expanduser()
    candidates = [given] if given.is_absolute() else [Path.cwd() / given]
    if not given.is_absolute() and config_files:
        candidates.append(Path(config_files[0]).resolve().parent / given)
    candidates = list(dict.fromkeys(c.resolve() for c in candidates))
    # A folder that is no package is skipped, not fatal: `project: ../` run from the repository
    # root names the root's parent first, and the config's own folder must still be tried.
    for folder in candidates:
        if (folder / "__init__.py").is_file():
            return folder
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
    """Import ``folder`` as the module ``project`` and register it before anything is built.

    A previously imported ``project`` from another folder (and its submodules) is replaced, so two
    runs in one process do not mix their projects' code.

    Raises:
        ConfigError: Importing the folder raised; the original exception is chained.
    """
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
