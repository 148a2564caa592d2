"""Build ``_target_`` components: import the target, check the arguments, call it.

A component is a dict with ``_target_`` (a dotted import path, or a callable from ``$``/``@``).
Reserved keys: ``_requires_``, ``_disabled_``, ``_mode_``, ``_desc_``, and lighter's ``_args_``
(positional arguments). Everything else is a keyword argument. Arguments are checked against the
target's signature *before* it is called, so a typo is reported as a typo, with a suggestion,
instead of as whatever the constructor happens to raise.
"""

from __future__ import annotations

import bdb
import builtins
import functools
import importlib
import inspect
import sys
from collections.abc import Callable, Sequence
from typing import Any

from lighter.errors import (
    ArgumentError,
    ConfigError,
    InstantiationError,
    LighterError,
    Location,
    TargetImportError,
    closest,
    did_you_mean,
)

__all__ = [
    "RESERVED_KEYS",
    "MODES",
    "is_component",
    "is_disabled",
    "locate",
    "argument_problems",
    "check_arguments",
    "call_target",
    "locate_error",
]

RESERVED_KEYS = frozenset({"_target_", "_requires_", "_disabled_", "_mode_", "_desc_", "_args_"})
MODES = ("default", "callable", "debug")


def is_component(value: Any) -> bool:
    """Whether ``value`` is a config component (a dict with ``_target_``)."""
    return isinstance(value, dict) and "_target_" in value


def is_disabled(flag: Any) -> bool:
    """Interpret a resolved ``_disabled_`` value as MONAI does (``"true"`` in any case is true)."""
    return flag.strip().lower() == "true" if isinstance(flag, str) else bool(flag)


def locate(path: str, *, id: str, location: Location | None, excludes: Sequence[str] = ()) -> Any:  # noqa: A002
    """Import a dotted path (``torch.nn.Linear``), or a bare builtin or MONAI name (``Compose``).

    Args:
        excludes: For a bare MONAI name: module-name fragments not to search (MONAI's
            ``ConfigParser(excludes=...)``).

    Raises:
        TargetImportError: Nothing at that path; suggests the closest name in the module reached.
    """
    parts = path.strip().split(".")
    if not all(part.isidentifier() for part in parts):  # `.`, `a..b`, `torch.nn.Linear()`
        raise TargetImportError(
            f"_target_ '{path}' is not an import path",
            id=id,
            location=location,
            suggestion="write names joined by dots, e.g. 'torch.nn.Linear'",
        )
    if len(parts) == 1:
        return _locate_bare(parts[0], id=id, location=location, excludes=excludes)
    try:
        obj = importlib.import_module(parts[0])
    except ImportError as e:
        raise _import_error(path, parts[0], e, _top_level_modules(), id, location) from e
    reached = parts[0]
    for part in parts[1:]:
        if hasattr(obj, part):
            obj = getattr(obj, part)
        elif inspect.ismodule(obj):
            try:
                obj = importlib.import_module(f"{reached}.{part}")
            except ImportError as e:
                candidates = [n for n in dir(obj) if not n.startswith("_")]
                raise _import_error(path, f"{reached}.{part}", e, candidates, id, location, part) from e
        else:
            near = closest(part, [n for n in dir(obj) if not n.startswith("_")])
            raise TargetImportError(
                f"cannot import '{path}': '{reached}' has no attribute '{part}'",
                id=id,
                location=location,
                suggestion=f"did you mean '{reached}.{near[0]}'?" if near else None,
            )
        reached = f"{reached}.{part}"
    return obj


def _import_error(path, module, error, candidates, id_, location, name=None) -> TargetImportError:  # noqa: ANN001
    missing = getattr(error, "name", None)
    if missing is not None and missing != module:  # the module exists but its own import failed
        return TargetImportError(f"cannot import '{path}': {error}", id=id_, location=location)
    if name is None:
        return TargetImportError(
            f"cannot import '{path}': no module named '{module}'",
            id=id_,
            location=location,
            suggestion=did_you_mean(module, candidates),
        )
    parent = module.rpartition(".")[0]
    near = closest(name, candidates)
    return TargetImportError(
        f"cannot import '{path}': module '{parent}' has no attribute '{name}'",
        id=id_,
        location=location,
        suggestion=f"did you mean '{parent}.{near[0]}'?" if near else None,
    )


def _top_level_modules() -> list[str]:
    import pkgutil  # only on the error path: scanning sys.path is slow

    return [m.name for m in pkgutil.iter_modules()] + list(sys.builtin_module_names)


def _locate_bare(name: str, *, id: str, location: Location | None, excludes: Sequence[str]) -> Any:  # noqa: A002
    if hasattr(builtins, name):
        return getattr(builtins, name)
    try:
        return importlib.import_module(name)
    except ImportError:
        pass
    # MONAI bundles name MONAI classes without their module (`_target_: Compose`).
    try:
        importlib.import_module("monai")
    except ImportError:
        pass
    for module_name, module in list(sys.modules.items()):
        if (
            module_name.startswith("monai")
            and module is not None
            and not any(e in module_name for e in excludes)
        ):
            obj = vars(module).get(name)
            if (inspect.isclass(obj) or inspect.isfunction(obj)) and obj.__module__ == module_name:
                return obj
    raise TargetImportError(
        f"cannot import '{name}': not a builtin, module or MONAI name",
        id=id,
        location=location,
        suggestion="give the full dotted path, e.g. 'torch.nn.Linear'",
    )


def _closest_argument(name: str, candidates: list[str]) -> str | None:
    """The argument ``name`` was probably meant to be: by spelling, else by initials (``learning_rate`` -> ``lr``)."""
    near = closest(name, candidates)
    if near:
        return near[0]
    initials = "".join(word[:1] for word in name.split("_") if word)
    return initials if len(initials) > 1 and initials in candidates else None


@functools.lru_cache(maxsize=4096)
def _parameters(target: Callable) -> tuple[list[inspect.Parameter], bool, bool] | None:
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return None
    var_positional = any(p.kind is p.VAR_POSITIONAL for p in params)
    var_keyword = any(p.kind is p.VAR_KEYWORD for p in params)
    return params, var_positional, var_keyword


def argument_problems(
    target: Any,
    name: str,
    args: list | None,
    kwargs: dict,
    *,
    partial: bool,
    id: str,  # noqa: A002
    where: Callable[[str], Location | None],
) -> list[ArgumentError]:
    """Every way the arguments do not fit ``target``'s signature (see :func:`check_arguments`).

    ``args`` is ``None`` when the positional arguments are not known yet (an ``@``/``$`` value):
    then only the keyword names are checked.
    """
    try:
        info = _parameters(target)
    except TypeError:  # unhashable callable: inspect it directly
        info = _parameters.__wrapped__(target)
    if info is None:
        return []
    params, var_positional, var_keyword = info
    problems: list[ArgumentError] = []
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if args is not None and len(args) > len(positional) and not var_positional:
        problems.append(
            ArgumentError(
                f"{name} takes {len(positional)} positional arguments but _args_ gives {len(args)}",
                id=id,
                location=where("_args_"),
            )
        )
    keyword_names = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if not var_keyword:
        for key in kwargs:
            if key not in keyword_names:
                near = _closest_argument(key, [k for k in keyword_names if k not in kwargs])
                hint = f"did you mean '{near}'?" if near else None
                # The right name may be set as well: `out_feature` merged next to `out_features`.
                near = near or _closest_argument(key, [k for k in keyword_names if k in kwargs])
                if hint is None and near is not None:
                    hint = f"did you mean '{near}', which is already set at {where(near)}?"
                problems.append(
                    ArgumentError(
                        f"{name} got an unexpected argument '{key}'",
                        id=id,
                        location=where(key),
                        suggestion=hint,
                    )
                )
    if partial or args is None:
        return problems
    bound = {p.name for p in positional[: len(args)]}
    for key in kwargs:
        if key in bound:
            problems.append(
                ArgumentError(
                    f"{name} got argument '{key}' both from _args_ and by name", id=id, location=where(key)
                )
            )
    missing = [
        p.name
        for p in params
        if p.default is p.empty
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        and p.name not in bound
        and p.name not in kwargs
    ]
    if missing:
        names = ", ".join(f"'{m}'" for m in missing)
        problems.append(
            ArgumentError(
                f"{name} is missing required argument{'s' if len(missing) > 1 else ''} {names}",
                id=id,
                location=where(""),
            )
        )
    return problems


def check_arguments(
    target: Any,
    name: str,
    args: list,
    kwargs: dict,
    *,
    partial: bool,
    id: str,  # noqa: A002
    where: Callable[[str], Location | None],
) -> None:
    """Check positional and keyword arguments against ``target``'s signature, before any call.

    Args:
        target: The callable. Targets whose signature cannot be read are not checked.
        name: How the target was written, for messages.
        args: Positional arguments.
        kwargs: Keyword arguments.
        partial: Missing arguments are allowed (``_mode_: callable`` makes a ``functools.partial``).
        id: The component's id.
        where: Location of an argument by name (``""``: the component itself).

    Raises:
        ArgumentError: An unexpected or missing argument, or too many positional ones (the first).
    """
    problems = argument_problems(target, name, args, kwargs, partial=partial, id=id, where=where)
    if problems:
        raise problems[0]


def call_target(
    target: Any,
    name: str,
    mode: Any,
    args: list,
    kwargs: dict,
    *,
    id: str,  # noqa: A002
    where: Callable[[str], Location | None],
    debug: bool = False,
) -> Any:
    """Call (or wrap) ``target`` according to ``_mode_``, checking the arguments first.

    Args:
        debug: ``_debug_: true``: stop in the debugger (``breakpoint()``, so ``PYTHONBREAKPOINT``
            applies) just before building, then build as ``_mode_`` says.

    Raises:
        ConfigError: An unknown ``_mode_``.
        ArgumentError: Arguments that do not fit the signature.
        InstantiationError: The target raised, or the debugger was quit; the original exception is
            chained.
    """
    mode = str(mode).strip()
    if mode not in MODES:
        raise ConfigError(
            f"unknown _mode_ '{mode}' (one of {', '.join(MODES)})",
            id=id,
            location=where("_mode_"),
            suggestion=did_you_mean(mode, MODES),
        )
    if not callable(target):  # MONAI returns such a target as it is
        return target
    check_arguments(target, name, args, kwargs, partial=mode == "callable", id=id, where=where)
    try:
        if debug:
            breakpoint()  # MONAI's `_debug_`: step from here into the build below
        if mode == "callable":
            return functools.partial(target, *args, **kwargs) if args or kwargs else target
        if mode == "debug":
            import pdb

            return pdb.runcall(target, *args, **kwargs)
        return target(*args, **kwargs)
    except LighterError:
        raise  # already says what is wrong, in lighter's terms
    except bdb.BdbQuit as e:  # quitting must stop the build, not leave the item out silently
        raise InstantiationError(
            f"quit the debugger (bdb.BdbQuit) before {name} was built", id=id, location=where("")
        ) from e
    except Exception as e:
        raise InstantiationError(f"{name} raised {type(e).__name__}: {e}", id=id, location=where("")) from e


def locate_error(
    error: LighterError,
    where: Callable[[str], Location | None],
    id: str | None = None,  # noqa: A002
) -> None:
    """Fill in a missing ``id`` and ``location`` of ``error`` (and of each problem it groups), in place.

    lighter's own components (System, adapters, writers) know what is wrong and often which id, but
    not where the user wrote it. The error keeps its class and traceback; only blanks are filled.

    Args:
        error: The error to complete.
        where: Location of an id (or of its closest enclosing id that has one).
        id: The id to blame when the error names none (the component being built).
    """
    for problem in [*getattr(error, "errors", ()), error]:  # a ValidationError's problems first
        if problem.id is None:
            problem.id = id
        if problem.location is None:
            found = where(problem.id) if problem.id is not None else None
            problem.location = found if found is not None or id is None else where(id)
