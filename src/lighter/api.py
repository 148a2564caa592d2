"""The Python API, for notebooks and scripts: the same pipeline as the ``lighter`` command.

::

    import lighter

    experiment = lighter.load("experiment.yaml", ["--trainer#max_epochs=3"])
    metrics = experiment.run("fit")          # the final metrics, by name
    experiment.run("test")                   # the trained system, still in memory
    system = lighter.load_checkpoint("runs/version_0/checkpoints/best.ckpt")

:func:`load` checks the config, imports its ``project`` and chooses the seed at once, so mistakes
surface before anything is built; the :class:`Experiment`'s ``system`` and ``trainer`` are built on
first use. :func:`load_checkpoint` rebuilds a :class:`~lighter.System` (or the config's own
LightningModule) from the config a checkpoint carries and loads its weights.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from lighter.config import ConfigParser
from lighter.config.components import locate_error
from lighter.engine.prune import check_stage, prune
from lighter.engine.runner import (
    Prepared,
    attach,
    build,
    build_data,
    build_part,
    build_system,
    execute,
    locator,
    prepare,
    resolve_seed,
)
from lighter.engine.schema import validate_structure
from lighter.engine.stages import Stage, stage_spec
from lighter.errors import LighterError, StageError

__all__ = ["Experiment", "load", "load_checkpoint"]


def load(
    config: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    overrides: Sequence[str] = (),
    *,
    stage: Stage | str | None = None,
    safe: bool | None = None,
    allow: Sequence[str] = (),
) -> Experiment:
    """Load an experiment as ``lighter <stage> CONFIG [overrides]`` would, without running it.

    Args:
        config: A config path, comma-separated paths, a list of paths, or a run folder (its saved
            ``config.yaml``; with ``stage="fit"`` the run is continued from its last checkpoint).
        overrides: Command-line style overrides, e.g. ``["--trainer#max_epochs=3"]``.
        stage: When given, the config is checked for that stage and pruned to what it needs, as the
            command does (a ``test`` experiment never builds the training data).
        safe: Safe mode, as ``--safe`` (see docs/safe_mode.md); ``None`` reads ``LIGHTER_SAFE``.
        allow: What safe mode allows besides its defaults, as ``--allow`` (``LIGHTER_ALLOW`` adds more).

    Raises:
        LighterError: Any mistake in the config, located at its id and file:line.
    """
    if stage is not None:
        stage_spec(stage)  # an unknown name fails here, with a suggestion
        stage = Stage(stage)
    if stage is None and _is_folder(config):
        config = _saved_config(Path(os.fspath(config)))
    from lighter.config.safety import allowed_packages, safe_requested

    safe = safe_requested() if safe is None else safe
    return Experiment(
        prepare(config, overrides, stage, safe=safe, allow=allowed_packages(allow) if safe else None)
    )


def _is_folder(config: Any) -> bool:
    return isinstance(config, str | os.PathLike) and "," not in os.fspath(config) and Path(config).is_dir()


def _saved_config(folder: Path) -> Path:
    from lighter.engine.resume import CONFIG_FILE

    saved = folder / CONFIG_FILE
    if not saved.is_file():
        raise StageError(f"'{folder}' is not a run folder: it has no {CONFIG_FILE}")
    return saved


class Experiment:
    """A loaded experiment: its config, and the System and Trainer it describes, built on first use.

    Attributes:
        parser: The config (overrides applied; pruned when loaded for a stage). ``project`` is
            imported, so ``parser.get_parsed_content("system#model")`` builds the user's classes too.
        seed: The seed the run uses (the configured one, or one drawn for it).
        config: The config saved with the run (``config.yaml``, checkpoints' ``lighter_config``).
    """

    def __init__(self, prepared: Prepared) -> None:
        self._prepared = prepared
        self._seeded = False
        self._attached = False
        self.parser: ConfigParser = prepared.parser
        self.seed: int = prepared.seed
        self.config: dict[str, Any] = prepared.record

    def __repr__(self) -> str:
        files = ", ".join(str(f) for f in self.parser.files) or "a dict"
        return f"Experiment({files}, seed={self.seed})"

    def _seed_once(self) -> None:
        # Seeded right before the first object is built, as the command does, so the same config
        # builds the same weights and data in a notebook and on the command line.
        if not self._seeded:
            import pytorch_lightning as pl

            pl.seed_everything(self.seed, workers=True, verbose=False)
            self._seeded = True

    @cached_property
    def system(self) -> Any:
        """The :class:`~lighter.System` (or the config's own LightningModule), built on first use."""
        self._seed_once()
        try:
            return build_system(self.parser)
        except LighterError as error:
            locate_error(error, locator(self.parser))
            raise

    @cached_property
    def datamodule(self) -> Any:
        """The LightningDataModule of ``data``, built on first use; ``None`` without ``data``."""
        self._seed_once()
        try:
            return build_data(self.parser)
        except LighterError as error:
            locate_error(error, locator(self.parser))
            raise

    @cached_property
    def trainer(self) -> Any:
        """The ``pytorch_lightning.Trainer``, built on first use."""
        from pytorch_lightning import Trainer

        self._seed_once()
        try:
            return build_part(self.parser, "trainer", Trainer, "pytorch_lightning.Trainer")
        except LighterError as error:
            locate_error(error, locator(self.parser))
            raise

    def run(self, stage: Stage | str, **args: Any) -> Any:
        """Run ``stage`` on this experiment's System and Trainer, as ``lighter <stage>`` does.

        The first run gives the Trainer its run folder (the config is saved there); later runs on
        the same experiment reuse the trained System, e.g. ``run("fit")`` then ``run("test")``.

        Args:
            stage: ``"fit"``, ``"validate"``, ``"test"``, ``"predict"``, ``"lr_find"`` or
                ``"scale_batch_size"``.
            **args: Keyword arguments for the Trainer/Tuner call; they win over ``args#<stage>``.

        Returns:
            What the Trainer/Tuner call returned; for ``fit``, the final metrics by name.

        Raises:
            LighterError: The config lacks what the stage needs, or a mistake found while running.
        """
        stage_spec(stage)  # an unknown name fails here, with a suggestion
        stage = Stage(stage)
        check_stage(self.parser.config, stage, self.parser.location)
        from lighter.engine.recording import recorded
        from lighter.engine.reproduce import shared_seed

        with shared_seed(self.seed):
            try:
                if "system" not in self.__dict__ and "trainer" not in self.__dict__:
                    self._build()  # all at once, in the command's order
                system, trainer, datamodule = self.system, self.trainer, self.datamodule
                if not self._attached:
                    attach(system, trainer, self._prepared)
                    self._attached = True
                prepared = self._prepared
                if prepared.resume is not None and stage is not Stage.FIT:
                    prepared = Prepared(
                        prepared.parser, prepared.record, prepared.seed, evaluation=prepared.evaluation
                    )
                return recorded(
                    stage,
                    prepared,
                    trainer,
                    lambda: execute(stage, system, trainer, prepared, datamodule=datamodule, **args),
                )
            except LighterError as error:  # e.g. an adapter that does not fit the batch
                locate_error(error, locator(self.parser))
                raise

    def _build(self) -> None:
        self._seed_once()
        system, trainer = build(self.parser)  # system, trainer, then data, as the command builds them
        self.__dict__.update(system=system, trainer=trainer, datamodule=build_data(self.parser))


def load_checkpoint(
    path: str | os.PathLike[str],
    overrides: Sequence[str] = (),
    *,
    stage: Stage | str | None = None,
    map_location: Any = "cpu",
    strict: bool = True,
    safe: bool | None = None,
    allow: Sequence[str] = (),
) -> Any:
    """Rebuild the :class:`~lighter.System` (or own LightningModule) a checkpoint was trained as, with its weights.

    The config comes from the checkpoint itself (``lighter_config``, saved by every lighter run; a
    System's older checkpoints carry it as their ``hyper_parameters``),
    so neither the config file nor the run folder is needed; its ``project`` folder must still exist.

    Args:
        path: A checkpoint written by a lighter run.
        overrides: Command-line style overrides applied to the checkpoint's config.
        stage: Build what this stage needs (its dataloaders, metrics …); by default only the model,
            adapters and inferer are built, and no data.
        map_location: Where the weights are loaded (as for ``torch.load``).
        strict: Every weight the System has must be in the checkpoint, and none of the checkpoint's
            may be left over except those of parts not built (optimizer, criterion, metrics).
        safe: Refuse the checkpoint if the config it carries would run code safe mode refuses
            (as ``--safe``; ``None`` reads ``LIGHTER_SAFE``). The file itself is always read
            with ``weights_only=True``.
        allow: What safe mode allows besides its defaults (``"project"`` for the project folder).

    Raises:
        StageError: The file is missing or not a checkpoint, it carries no lighter config, or its
            weights do not fit the System its config builds.
        LighterError: The config no longer builds (located at its id).
    """
    import pytorch_lightning as pl
    import torch

    from lighter.engine.module_kind import resolve_kind
    from lighter.engine.project import import_configured_project
    from lighter.engine.reproduce import CHECKPOINT_KEY
    from lighter.system import System

    checkpoint = _read_checkpoint(Path(path), map_location)
    # Every lighter run writes it under CHECKPOINT_KEY; a System's checkpoints (older ones only so)
    # also hold it as the hyperparameters.
    config = checkpoint.get(CHECKPOINT_KEY) or checkpoint.get("hyper_parameters")
    if not isinstance(config, Mapping) or "system" not in config:
        raise StageError(
            f"checkpoint '{path}' carries no lighter config (its hyper_parameters have no 'system')",
            suggestion="give the config too: lighter.load(CONFIG).system, then load_state_dict",
        )
    from lighter.config.safety import allowed_packages, safe_requested

    safe = safe_requested() if safe is None else safe
    parser = ConfigParser(dict(config), safe=safe, allow=allowed_packages(allow) if safe else None)
    if overrides:
        parser.apply_overrides(list(overrides), check_targets=not safe)
    if safe:
        _check_carried_config(parser, path)
    validate_structure(parser.config, parser.location)
    import_configured_project(parser)
    is_system = bool(resolve_kind(parser.config, locator(parser)))  # the user's own module otherwise
    if stage is not None:
        stage_spec(stage)
        stage = Stage(stage)
        check_stage(parser.config, stage, parser.location, system=is_system)
    pruned = prune(parser, stage if stage is not None else Stage.PREDICT, system=is_system)
    if stage is None and is_system:
        pruned["system#dataloaders"] = {}  # the model only: no data is read
    # The run's own seed: a dataset that splits at random must split as it did in training.
    pl.seed_everything(resolve_seed(parser) or 0, workers=True, verbose=False)
    try:
        system = build_system(pruned)
    except LighterError as error:
        locate_error(error, locator(pruned))
        raise
    if isinstance(system, System):
        system.save_hyperparameters(dict(config))
    system.on_load_checkpoint(checkpoint)  # as Lightning's own load_from_checkpoint calls it
    _load_weights(system, checkpoint.get("state_dict", {}), path, strict)
    # load_state_dict copies into the parameters where they are (the CPU): move them as asked.
    return system.to(map_location) if isinstance(map_location, str | torch.device) else system


def _check_carried_config(parser: ConfigParser, path: Any) -> None:
    """Safe mode on the config a checkpoint carries: every refusal at once, at ``checkpoint:id``."""
    from lighter.errors import Location, ValidationError

    try:
        parser.parse()
    except ValidationError as error:
        for each in error.errors:
            if each.location is None:
                each.location = Location(f"{path} (its config)")
        raise ValidationError(list(error.errors)) from None


def _read_checkpoint(path: Path, map_location: Any) -> dict[str, Any]:
    import torch

    if not path.is_file():
        raise StageError(
            f"checkpoint '{path}' does not exist" + (" (it is a folder)" if path.is_dir() else "")
        )
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # unpickling raises many types; all mean "not a checkpoint"
        raise StageError(
            f"'{path}' is not a checkpoint torch can read", details=f"{type(error).__name__}: {error}"
        ) from error
    if not isinstance(checkpoint, Mapping):
        raise StageError(f"'{path}' is not a checkpoint (it holds a {type(checkpoint).__name__})")
    return dict(checkpoint)


def _load_weights(system: Any, state_dict: Mapping[str, Any], path: Any, strict: bool) -> None:
    """Load ``state_dict``; leftovers of parts that were not built (optimizer, criterion …) are fine."""
    result = system.load_state_dict(state_dict, strict=False)
    built = {name for name, _ in system.named_children()}
    unexpected = [key for key in result.unexpected_keys if key.split(".", 1)[0] in built]
    if strict and (result.missing_keys or unexpected):
        parts = []
        if result.missing_keys:
            parts.append(f"missing {', '.join(result.missing_keys[:5])}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected[:5])}")
        raise StageError(
            f"the weights in '{path}' do not fit the System its config builds: {'; '.join(parts)}",
            suggestion="pass strict=False to load what fits",
        )
