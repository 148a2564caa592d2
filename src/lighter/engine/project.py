"""Import the user's ``project`` folder as the module ``project`` (SPEC §2).

A config can then name the user's own code as ``project.models.MyNet``. The folder is found
relative to the working directory first, then to the first config file's folder, so a config
keeps working when run from its own folder or from the repository root.
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
        ConfigError: No such folder, or it has no ``__init__.py``.
    """
    given = Path(path).expanduser()
    candidates = [given] if given.is_absolute() else [Path.cwd() / given]
    if not given.is_absolute() and config_files:
        candidates.append(Path(config_files[0]).resolve().parent / given)
    for folder in candidates:
        if folder.is_dir():
            if not (folder / "__init__.py").is_file():
                raise ConfigError(
                    f"project folder '{folder}' has no __init__.py, so it cannot be imported as a module",
                    id="project",
                    location=location,
                    suggestion=f"create {folder / '__init__.py'} (it may be empty)",
                )
            return folder.resolve()
    tried = ", ".join(str(c) for c in dict.fromkeys(candidates))
    raise ConfigError(
        f"project folder '{path}' does not exist (looked in {tried})", id="project", location=location
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
