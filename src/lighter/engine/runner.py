"""Run one stage of an experiment: a pipeline of steps that each return a value.

prepare (load → override → validate → check the stage → prune → import ``project`` → choose the
seed) → seed → build → attach (record the config, decide the run folder) → execute (run the stage
with ``args#<stage>`` → report). :mod:`lighter.api` composes the same steps for notebooks.

Nothing is built before the structure is validated and the config pruned for the stage, so a
``test`` run never builds the training data, and a mistake surfaces before any heavy work.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lighter.config import ConfigParser
from lighter.config.components import locate_error
from lighter.config.ids import ancestors
from lighter.config.preflight import check_references
from lighter.engine.project import find_project, import_project
from lighter.engine.prune import check_stage, prune
from lighter.engine.resume import Resume, plan_resume
from lighter.engine.schema import is_reference, validate_structure
from lighter.engine.stages import Stage, stage_spec
from lighter.errors import ConfigError, LighterError, Location, StageError, did_you_mean

__all__ = [
    "Prepared",
    "load",
    "resolve_seed",
    "prepare",
    "build",
    "build_part",
    "locator",
    "attach",
    "stage_args",
    "execute",
    "final_metrics",
    "run",
]


def _say(line: str) -> None:
    """Print on rank 0 only: child processes of a multi-process launch run this same pipeline."""
    from pytorch_lightning.utilities import rank_zero_only

    if rank_zero_only.rank == 0:
        print(line, flush=True)


def load(
    config: str | Path | Sequence[str | Path], overrides: Sequence[str] = (), *, check_targets: bool = True
) -> ConfigParser:
    """Read the config file(s) (a path, comma-separated paths, or a list) and apply ``overrides``.

    With ``check_targets`` false, keys that overrides create are checked against their targets
    only by ``parser.check_overrides()`` (it imports the targets, Lightning for ``trainer``).
    """
    parser = ConfigParser()
    parser.read_config(config)
    if overrides:
        parser.apply_overrides(list(overrides), check_targets=check_targets)
    return parser


def resolve_seed(parser: ConfigParser) -> int | None:
    """Return the configured seed (an expression is evaluated), or ``None`` when none is set."""
    raw = parser.get("seed")
    if raw is None:
        return None
    seed = parser.get_parsed_content("seed") if is_reference(raw) else raw
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(
            f"seed must be an integer, got {seed!r}", id="seed", location=parser.location("seed")
        )
    return seed


def build_part(parser: ConfigParser, id_: str, kind: type, name: str) -> Any:
    """Build ``id_`` and check that it is a ``kind`` (named ``name`` in the error)."""
    value = parser.get_parsed_content(id_)
    if not isinstance(value, kind):
        raise ConfigError(
            f"{id_} must build a {name}, but it built {type(value).__module__}.{type(value).__qualname__}",
            id=id_,
            location=parser.location(id_),
            suggestion=f"set {id_}#_target_: {name}",
        )
    return value


def build(parser: ConfigParser) -> tuple[Any, Any]:
    """Build ``(system, trainer)``, checking that they are a ``lighter.System`` and a ``Trainer``."""
    from pytorch_lightning import Trainer

    from lighter.system import System

    # The system first: its mistakes are the common ones, and they should surface before the
    # Trainer starts printing about devices.
    system = build_part(parser, "system", System, "lighter.System")
    trainer = build_part(parser, "trainer", Trainer, "pytorch_lightning.Trainer")
    return system, trainer


def stage_args(parser: ConfigParser, stage: Stage, method: Callable[..., Any]) -> dict[str, Any]:
    """Resolve ``args#<stage>`` (``@``/``$`` work there too) and check it against ``method``'s signature.

    Raises:
        StageError: An argument ``method`` does not take (with the closest one it does).
    """
    id_ = f"args#{stage.value}"
    args = parser.get_parsed_content(id_) if id_ in parser and parser.get(id_) is not None else {}
    if not isinstance(args, Mapping):
        raise ConfigError(
            f"{id_} must be a mapping of keyword arguments", id=id_, location=parser.location(id_)
        )
    accepted = [
        name
        for name, p in inspect.signature(method).parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ][1:]  # the first parameter receives the system
    for key in args:
        if key not in accepted:
            raise StageError(
                f"stage '{stage.value}' takes no argument '{key}'",
                id=f"{id_}#{key}",
                location=parser.location(f"{id_}#{key}"),
                suggestion=did_you_mean(str(key), accepted) or f"it takes: {', '.join(accepted)}",
            )
    _check_checkpoint(parser, id_, args.get("ckpt_path"))
    return dict(args)


def _check_checkpoint(parser: ConfigParser, args_id: str, path: Any) -> None:
    """Catch a mistyped ``ckpt_path`` here, with its location, rather than deep inside Lightning."""
    if not isinstance(path, str | Path):
        return
    text = str(path)
    # Lightning's own names ("best", "last", "hpc", "registry…") and remote URLs are its business.
    if text in ("best", "last", "hpc") or text.startswith("registry") or "://" in text or Path(text).exists():
        return
    id_ = f"{args_id}#ckpt_path"
    raise StageError(f"checkpoint '{text}' does not exist", id=id_, location=parser.location(id_))


def _import_project(parser: ConfigParser) -> Path | None:
    """Import the ``project`` folder, if any, and return where it was found."""
    path = parser.get("project")
    if path is None:
        return None
    location = parser.location("project")
    folder = find_project(path, parser.files, location=location)
    import_project(folder, location=location)
    return folder


def locator(parser: ConfigParser) -> Callable[[str], Location | None]:
    """Location of an id, or of its closest enclosing id that has one, as ``file:line``."""

    def where(id_: str) -> Location | None:
        for candidate in ancestors(id_):
            found = parser.location(candidate)
            if found is not None:
                return Location(found.file, found.line)
        return None

    return where


@dataclass(frozen=True)
class Prepared:
    """A config made ready to build: every check done, ``project`` imported, the seed chosen.

    Attributes:
        parser: The config, pruned for the stage when one was given.
        record: The config to save with the run (unpruned, with the seed and the imported project).
        seed: The seed for ``seed_everything``.
        resume: Set when the config came from a run folder to continue.
    """

    parser: ConfigParser
    record: dict[str, Any]
    seed: int
    resume: Resume | None = None


def prepare(
    config: str | Path | Sequence[str | Path], overrides: Sequence[str] = (), stage: Stage | None = None
) -> Prepared:
    """Load, override, validate, check and prune for ``stage`` (if given), import ``project``, choose the seed.

    ``config`` may also be a run folder when ``stage`` is ``fit``: its saved config is continued.
    """
    resume = plan_resume(config, stage, overrides) if isinstance(config, str | Path) and stage else None
    # Cheap checks first: nothing below imports torch or Lightning until the config has passed
    # every check that needs no import (a new key under `trainer` waits for check_overrides).
    parser = load(resume.config if resume else config, overrides, check_targets=False)
    validate_structure(parser.config, parser.location)
    if stage is not None:
        check_stage(parser.config, stage, parser.location)
    pruned = prune(parser, stage) if stage is not None else parser
    # What the stage builds: `vars` and `_meta_` only matter where something refers to them.
    check_references(pruned.graph, [key for key in pruned.config if key not in ("vars", "_meta_")])
    project = _import_project(parser)
    parser.check_overrides()

    from lighter.engine.launchers import detect_launch
    from lighter.engine.reproduce import choose_seed, recorded_config

    # Under torchrun or srun every rank runs this line: rank 0's draw reaches the others.
    seed = choose_seed(resolve_seed(parser), launch=detect_launch())
    record = recorded_config(parser.config, seed)
    if project is not None:
        # A relative `project` was found from the cwd or the config's folder; the saved config
        # lives elsewhere, so it records the folder that was actually imported.
        record["project"] = str(project)
    return Prepared(pruned, record, seed, resume)


def attach(system: Any, trainer: Any, prepared: Prepared) -> Any:
    """Give the run its config and its folder; return the :class:`~lighter.engine.run_folder.RunFolder`.

    In a single process the folder is decided now (the tuner stages swap the Trainer's callbacks
    while they run); in a multi-process run at ``setup``, once the processes can agree on it.
    """
    from lighter.engine.launchers import check_launch, detect_launch
    from lighter.engine.reproduce import RandomState, attach_config
    from lighter.engine.run_folder import RunFolder

    # Before the run folder: a Trainer that does not fit torchrun/srun must not leave one behind.
    check_launch(trainer, detect_launch(), locator(prepared.parser))
    attach_config(system, prepared.record)
    folder = RunFolder(prepared.record, prepared.resume.folder if prepared.resume else None)
    # First, so that its `setup` decides the folder before any checkpoint callback resolves its own.
    trainer.callbacks.insert(0, folder)
    trainer.callbacks.append(RandomState())
    if trainer.num_devices * trainer.num_nodes == 1:
        folder.resolve(trainer)
    return folder


def final_metrics(trainer: Any) -> dict[str, float]:
    """The single-number metrics the Trainer holds at the end of a stage, as floats, by name."""
    return {
        name: float(value)
        for name, value in sorted(trainer.callback_metrics.items())
        if getattr(value, "numel", lambda: 1)() == 1
    }


def execute(stage: Stage, system: Any, trainer: Any, prepared: Prepared, **args: Any) -> Any:
    """Call the stage with ``args#<stage>`` (updated with ``args``), print its report, return its result.

    ``fit`` returns :func:`final_metrics` (Lightning's ``fit`` returns nothing).
    """
    spec = stage_spec(stage)
    method = spec.method(trainer)
    call_args = {**stage_args(prepared.parser, stage, method), **args}
    resume = prepared.resume
    if resume is not None and resume.checkpoint is not None and "ckpt_path" not in args:
        _say(f"Resuming {resume.folder} from {resume.checkpoint.name}")
        call_args["ckpt_path"] = str(resume.checkpoint)
    result = method(system, **call_args)
    for line in spec.report(result, trainer) if spec.report else []:
        _say(line)
    return final_metrics(trainer) if stage is Stage.FIT else result


def run(stage: Stage | str, config: str | Path | Sequence[str | Path], overrides: Sequence[str] = ()) -> Any:
    """Run ``stage`` of the experiment in ``config`` with command-line style ``overrides``.

    Args:
        stage: A :class:`Stage` or its name (``"fit"``, ``"lr_find"`` …).
        config: A config path, comma-separated paths, or a list of paths; later files win. For
            ``fit``, a run folder continues that run from its last checkpoint.
        overrides: ``["--trainer#max_epochs=3", ...]``, values parsed as YAML.

    Returns:
        What the Trainer/Tuner call returned (e.g. the predictions, or the lr finder); for ``fit``,
        the final metrics by name.

    Raises:
        LighterError: Any mistake in the config, located at its id and file:line.
    """
    stage_spec(stage)  # an unknown name fails here, with a suggestion
    stage = Stage(stage)
    prepared = prepare(config, overrides, stage)
    # Lightning loads only now, so every mistake above is reported without waiting for it.
    import pytorch_lightning as pl

    from lighter.engine.reproduce import shared_seed

    seed = prepared.seed
    # Children of a DDP launch re-run this command line; the environment hands them the same seed.
    with shared_seed(seed):
        _say(f"Seed: {seed}")
        pl.seed_everything(seed, workers=True, verbose=False)
        try:
            system, trainer = build(prepared.parser)
            attach(system, trainer, prepared)
            return execute(stage, system, trainer, prepared)
        except LighterError as error:  # e.g. an adapter that does not fit the batch, found mid-run
            locate_error(error, locator(prepared.parser))
            raise
