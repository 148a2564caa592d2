"""Whether ``system`` is a :class:`lighter.System` or the user's own LightningModule, and what ``data`` is.

A ``lighter.System`` gets System-only treatment (its keys checked, its parts pruned per stage, the
stage's needs checked); any other LightningModule is built as a plain component with its own
arguments, which nothing may drop. The decision is as cheap as it can be:

- :func:`literal_kind` reads the config only: the literal targets ``lighter.System`` and
  ``lighter.system.System`` (or no ``_target_`` at all) are a System, without any import; any other
  target is not known yet (``None``): it may be the user's module or a subclass of System.
- :func:`resolve_kind` imports that target (after the ``project`` import, in the pre-flight) and
  decides with ``issubclass``; a target that is not a LightningModule at all is an error.

The messages for a ``system`` that is not a LightningModule and a ``data`` that is not a
LightningDataModule are written here once, for the pre-flight (a class) and for the build (an object).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from lighter.errors import ConfigError, LighterError, Location

__all__ = [
    "SYSTEM_TARGETS",
    "DATA_MODES",
    "literal_kind",
    "has_data",
    "resolve_kind",
    "kind_problems",
    "not_a_module",
    "not_a_datamodule",
    "datamodule_modes",
    "data_modes",
    "use_datamodule",
]

SYSTEM_TARGETS = ("lighter.System", "lighter.system.System")
"""Targets that are :class:`lighter.System` without importing anything."""

DATA_MODES = {mode: f"{mode}_dataloader" for mode in ("train", "val", "test", "predict")}
"""Each mode's dataloader hook, on a LightningModule and a LightningDataModule alike."""

Locate = Callable[[str], "Location | None"]


def _nowhere(_: str) -> Location | None:
    return None


def _literal_target(value: Any) -> str | None:
    """The ``_target_`` of a component written as a plain import path, else ``None``."""
    if not isinstance(value, Mapping):
        return None
    target = value.get("_target_")
    if isinstance(target, str) and target.strip() and target.strip()[:1] not in ("$", "@", "%"):
        return target.strip()
    return None


def literal_kind(config: Mapping[str, Any]) -> bool | None:
    """Whether ``system`` is a lighter.System, judged from the config alone.

    Returns:
        ``True`` for the literal System targets, and for a ``system`` without ``_target_`` (written
        with System's keys); ``None`` for any other target, which only an import can decide.
    """
    system = config.get("system")
    if not isinstance(system, Mapping) or "_target_" not in system:
        return True
    target = _literal_target(system)
    return True if target in SYSTEM_TARGETS else None


def has_data(config: Mapping[str, Any]) -> bool:
    """The config gives a ``data`` section (not ``null``, not disabled by a literal flag)."""
    from lighter.config.components import is_disabled

    data = config.get("data")
    if data is None:
        return False
    flag = data.get("_disabled_") if isinstance(data, Mapping) else None
    return not (isinstance(flag, bool | str) and not str(flag).startswith("$") and is_disabled(flag))


def _import(path: str, id_: str, locate: Locate) -> Any:
    """The class at ``path``, or ``None`` when it does not import (the pre-flight reports that)."""
    from lighter.config.components import locate as import_target

    try:
        return import_target(path, id=id_, location=locate(f"{id_}#_target_"))
    except LighterError:
        return None


def _name(value: Any) -> str:
    cls = value if isinstance(value, type) else type(value)
    return f"{cls.__module__}.{cls.__qualname__}"


def not_a_module(value: Any, locate: Locate = _nowhere, name: str | None = None) -> ConfigError:
    """``system`` (a class, or what was built) is not a LightningModule; ``name``: its target as written."""
    return ConfigError(
        f"system must be a LightningModule (lighter.System or your own); got {name or _name(value)}",
        id="system",
        location=locate("system#_target_") or locate("system"),
    )


def not_a_datamodule(value: Any, locate: Locate = _nowhere, name: str | None = None) -> ConfigError:
    """``data`` (a class, or what was built) is not a LightningDataModule; ``name``: its target as written."""
    return ConfigError(
        f"data must be a LightningDataModule (passed to every stage as datamodule=); got {name or _name(value)}",
        id="data",
        location=locate("data#_target_") or locate("data"),
    )


def resolve_kind(config: Mapping[str, Any], locate: Locate = _nowhere) -> bool | None:
    """Whether ``system`` is a lighter.System, importing its target when the config alone cannot say.

    Call it after the ``project`` import. A target that does not import, or one written as a
    ``$``/``@`` value, stays ``None`` (not known before building).

    Raises:
        ConfigError: The target imports but is not a LightningModule.
    """
    known = literal_kind(config)
    if known is not None:
        return known
    target = _literal_target(config.get("system"))
    cls = _import(target, "system", locate) if target is not None else None
    if not isinstance(cls, type):
        return None
    import pytorch_lightning as pl

    from lighter.system import System

    if not issubclass(cls, pl.LightningModule):
        raise not_a_module(cls, locate, target)
    return issubclass(cls, System)


def datamodule_modes(cls: type) -> set[str]:
    """The modes whose ``*_dataloader`` a LightningDataModule class defines (overrides)."""
    import pytorch_lightning as pl

    return {
        mode
        for mode, hook in DATA_MODES.items()
        if getattr(cls, hook, None) is not getattr(pl.LightningDataModule, hook)
    }


def _data_class(config: Mapping[str, Any], locate: Locate) -> tuple[str | None, type | None]:
    """``data``'s target as written and the class it imports (``None`` when not known before building)."""
    target = _literal_target(config.get("data")) if has_data(config) else None
    cls = _import(target, "data", locate) if target is not None else None
    return target, cls if isinstance(cls, type) else None


def data_modes(config: Mapping[str, Any]) -> set[str]:
    """The modes ``data``'s class defines a loader for; empty when there is none or it does not import."""
    cls = _data_class(config, _nowhere)[1]
    if cls is None:
        return set()
    import pytorch_lightning as pl

    return datamodule_modes(cls) if issubclass(cls, pl.LightningDataModule) else set()


def kind_problems(
    config: Mapping[str, Any], stages: Iterable[Any] = (), locate: Locate = _nowhere
) -> list[LighterError]:
    """What the pre-flight sees of ``system`` and ``data`` once their targets can be imported.

    A ``system`` that is not a LightningModule, a ``data`` that is not a LightningDataModule, and a
    lighter.System whose ``data`` defines no dataloader for a stage's first mode (``fit`` → train).
    """
    problems: list[LighterError] = []
    try:
        system = resolve_kind(config, locate)
    except LighterError as error:
        problems.append(error)
        system = None
    target, cls = _data_class(config, locate)
    if cls is None:
        return problems
    import pytorch_lightning as pl

    if not issubclass(cls, pl.LightningDataModule):
        return [*problems, not_a_datamodule(cls, locate, target)]
    if system:
        from lighter.engine.stages import stage_spec

        defined = datamodule_modes(cls)
        for stage in stages:
            mode = stage_spec(stage).modes[0]  # fit's train, validate's val, ...
            if mode not in defined:
                problems.append(
                    ConfigError(
                        f"stage '{getattr(stage, 'value', stage)}' needs {mode} data, but data ({target}) defines no "
                        f"{DATA_MODES[mode]}()",
                        id="data",
                        location=locate("data#_target_") or locate("data"),
                    )
                )
    return problems


def use_datamodule(system: Any, datamodule: Any, modes: Iterable[str]) -> None:
    """Tell a lighter.System which of the stage's ``modes`` ``datamodule`` provides (none without one).

    The System then defines those modes' step hooks though it has no dataloaders of its own; the
    user's own LightningModule defines its hooks itself and is left alone.
    """
    from lighter.system import System

    if isinstance(system, System):
        provided = datamodule_modes(type(datamodule)) if datamodule is not None else set()
        system.use_datamodule([mode for mode in modes if mode in provided])
