"""The command line of one sweep trial: its sampled values and its run folder, as overrides.

Pure functions of the merged config (no Optuna, no torch). A trial is ``lighter fit CONFIG`` with
these overrides; the same values without the folder ones reproduce the run anywhere.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lighter.engine.sweep_spec import SweepSpec

__all__ = ["logger_placement", "override_text", "trial_overrides", "value_overrides"]

_PLACED_LOGGERS = ("CSVLogger", "TensorBoardLogger")  # loggers whose version folder the sweep can choose


def logger_placement(parser: Any) -> tuple[str | None, str | None]:
    """How a trial's run folder is made its trial folder: ``(logger id to place, default logger class)``.

    A CSV or TensorBoard logger writes to ``save_dir/name/version``, which the trial sets to
    ``<sweep folder>/trial-<n>``; a config without a logger gets the class Lightning would have
    chosen, placed the same way. Any other logger (or none: ``logger: false``) keeps its own folder.
    """
    logger = parser.get("trainer#logger")
    trainer_target = parser.get("trainer#_target_")
    for id_, entry in (
        ("trainer#logger", logger),
        ("trainer#logger#0", logger[0] if isinstance(logger, list) and logger else None),
    ):
        target = entry.get("_target_") if isinstance(entry, Mapping) else None
        if isinstance(target, str) and target.rsplit(".", 1)[-1] in _PLACED_LOGGERS:
            return id_, None
    if logger is None or logger is True:
        package = "lightning.pytorch" if str(trainer_target).startswith("lightning.") else "pytorch_lightning"
        # Lightning's own choice when no logger is given: TensorBoard when it is installed.
        board = any(importlib.util.find_spec(name) for name in ("tensorboard", "tensorboardX"))
        return None, f"{package}.loggers.{'TensorBoardLogger' if board else 'CSVLogger'}"
    return None, None


def override_text(value: Any) -> str:
    """``value`` as the command line writes it, read back as the same value (YAML 1.2, JSON-compatible).

    A string starting with ``@``/``$``/``%`` stays a reference or expression, as in a config file.
    """
    if isinstance(value, str) and value[:1] in ("@", "$", "%"):
        return value
    if isinstance(value, float):
        text = repr(value)  # the shortest text that reads back as the same float: 0.001, 1e-05
        # 1.0e-05, not 1e-05: a float in YAML 1.2 and in the YAML 1.1 that PyYAML reads alike.
        return text.replace("e", ".0e", 1) if "e" in text and "." not in text else text
    return json.dumps(value)


def value_overrides(spec: SweepSpec, values: Mapping[str, Any]) -> list[str]:
    """The overrides that set a trial's sampled values (and drop the sweep section): its run, anywhere."""
    return [
        "--sweep=null",
        *[f"--{p.id}={override_text(values[p.name])}" for p in spec.params if p.name in values],
    ]


def trial_overrides(spec: SweepSpec, values: Mapping[str, Any], folder: Path) -> list[str]:
    """The overrides that make a plain ``fit`` of one trial: its values, and its run folder ``folder``.

    With a CSV or TensorBoard logger (or none given), the logger's version folder is ``folder``
    itself, so the trial's folder is its run folder: ``config.yaml``, checkpoints and logs in it.
    """
    where = override_text(str(folder))
    overrides = ["--sweep=null", f"--trainer#default_root_dir={where}"]
    overrides += [f"--{target}={where}" for target in spec.folder_ids]
    placement = {"save_dir": str(folder.parent), "name": "", "version": folder.name}
    if spec.logger_id is not None:
        overrides += [f"--{spec.logger_id}#{key}={override_text(value)}" for key, value in placement.items()]
    elif spec.default_logger is not None:
        overrides.append(f"--trainer#logger={json.dumps({'_target_': spec.default_logger, **placement})}")
    return overrides + value_overrides(spec, values)[1:]
