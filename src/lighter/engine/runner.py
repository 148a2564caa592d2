"""Run one stage of an experiment: a pipeline of steps that each return a value.

prepare (load → override → validate → check the stage → prune → check references → import
``project`` → pre-flight: targets, arguments, literal types, expression names → choose the seed)
→ seed → build → attach (record the config, decide the run folder) → execute (run the stage with
``args#<stage>`` → report). :mod:`lighter.api` composes the same steps for notebooks.

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
from lighter.config.ids import ancestors
from lighter.config.preflight import check_references
from lighter.engine.project import find_project, import_project
from lighter.engine.prune import check_stage, prune
from lighter.engine.resume import Resume, plan_resume
from lighter.engine.schema import is_reference, validate_structure
from lighter.engine.stages import Stage, stage_spec
from lighter.errors import ConfigError, Location, StageError, ValidationError, did_you_mean

__all__ = [
    "MAX_SEED",
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


MAX_SEED = 2**32 - 1
"""The largest seed every generator ``seed_everything`` seeds accepts (numpy's bound)."""
# The stage calls that read `ckpt_path` and take `weights_only` (Lightning's Trainer methods).
_READS_CHECKPOINT = (Stage.FIT, Stage.VALIDATE, Stage.TEST, Stage.PREDICT)


def _say(line: str) -> None:
    """Print on rank 0 only: child processes of a multi-process launch run this same pipeline."""
    from pytorch_lightning.utilities import rank_zero_only

    if rank_zero_only.rank == 0:
        print(line, flush=True)


def load(
    config: str | Path | Sequence[str | Path],
    overrides: Sequence[str] = (),
    *,
    check_targets: bool = True,
    safe: bool = False,
    allow: Sequence[str] | None = None,
) -> ConfigParser:
    """Read the config file(s) (a path, comma-separated paths, or a list) and apply ``overrides``.

    With ``check_targets`` false, keys that overrides create are checked against their targets
    only by ``parser.check_overrides()`` (it imports the targets, Lightning for ``trainer``).
    With ``safe``, the result is checked at once (overrides included), and every later parse of it
    or of its copies is too (see :mod:`lighter.config.safety`).
    """
    parser = ConfigParser(safe=safe, allow=allow)
    parser.read_config(config)
    if overrides:
        parser.apply_overrides(list(overrides), check_targets=check_targets)
    if safe:
        parser.parse()  # parsing checks it: refuse before anything is validated, imported or built
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
    if not 0 <= seed <= MAX_SEED:
        # numpy's generator, which seed_everything seeds too, takes unsigned 32-bit seeds only.
        shown = str(seed) if len(str(seed)) <= 24 else f"an integer of {len(str(abs(seed)))} digits"
        raise ConfigError(
            f"seed must be between 0 and {MAX_SEED} (numpy's range), got {shown}",
            id="seed",
            location=parser.location("seed"),
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

    from lighter._system.dataloaders import recording_init_args
    from lighter.system import System

    # The system first: its mistakes are the common ones, and they should surface before the
    # Trainer starts printing about devices. Its dataloaders remember their arguments, so that
    # scale_batch_size rebuilds each with its class and every argument kept.
    with recording_init_args():
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
    if path is None:
        return
    id_ = f"{args_id}#ckpt_path"
    location = parser.location(id_) or parser.location(args_id)
    if not isinstance(path, str | Path):
        raise StageError(
            f"ckpt_path must be the path of a checkpoint file, got {type(path).__name__} {path!r}",
            id=id_,
            location=location,
            suggestion="quote it if it is a file name, or use 'last' or 'best'",
        )
    text = str(path)
    # Lightning's own names ("best", "last", "hpc", "registry…") and remote URLs are its business.
    if text in ("best", "last", "hpc") or text.startswith("registry") or "://" in text:
        return
    found = Path(text)
    if found.is_dir():
        inside = sorted(found.rglob("*.ckpt"), key=lambda p: p.stat().st_mtime)
        last = [p for p in inside if p.name == "last.ckpt"]
        hint = f"did you mean '{(last or inside)[-1]}'?" if inside else "give the checkpoint file itself"
        raise StageError(
            f"checkpoint '{text}' is a folder, not a file", id=id_, location=location, suggestion=hint
        )
    if not found.exists():
        raise StageError(f"checkpoint '{text}' does not exist", id=id_, location=location)
    problem = _not_a_checkpoint(found)
    if problem is not None:
        raise StageError(f"'{text}' is not a checkpoint: {problem}", id=id_, location=location)


def _not_a_checkpoint(path: Path) -> str | None:
    """Why ``path`` cannot be a file ``torch.save`` wrote, or ``None`` when it looks like one.

    Only the container is checked (cheap, nothing unpickled): a zip archive holding ``data.pkl``
    (torch's format since 1.6), or a pickle stream (its legacy format).
    """
    import zipfile

    try:
        with path.open("rb") as handle:
            head = handle.read(2)
        if not head:
            return "the file is empty"
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                if any(name.endswith("data.pkl") for name in archive.namelist()):
                    return None
            return "a zip archive, but not one torch.save wrote"
    except (OSError, zipfile.BadZipFile) as error:
        from lighter.atomic import os_reason

        return f"cannot read it ({os_reason(error)})"
    if head[0] == 0x80:  # a pickle protocol marker: torch's legacy format
        return None
    if head == b"PK":
        return "a damaged zip archive (a checkpoint cut short while it was written?)"
    return "not a file torch.save wrote"


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
    config: str | Path | Sequence[str | Path],
    overrides: Sequence[str] = (),
    stage: Stage | None = None,
    *,
    safe: bool = False,
    allow: Sequence[str] | None = None,
) -> Prepared:
    """Load, override, validate, check and prune for ``stage`` (if given), import ``project``, choose the seed.

    ``config`` may also be a run folder when ``stage`` is ``fit``: its saved config is continued.
    With ``safe``, a config that would run code outside ``allow`` is refused before anything else.
    """
    resume = plan_resume(config, stage, overrides) if isinstance(config, str | Path) and stage else None
    # Cheap checks first: nothing below imports torch or Lightning until the config has passed
    # every check that needs no import (a new key under `trainer` waits for check_overrides).
    parser = load(resume.config if resume else config, overrides, check_targets=False, safe=safe, allow=allow)
    validate_structure(parser.config, parser.location)
    if stage is not None:
        check_stage(parser.config, stage, parser.location)
        ckpt_id = f"args#{stage.value}#ckpt_path"
        if not is_reference(parser.get(ckpt_id)):  # checked again once resolved; a plain path fails fast
            _check_checkpoint(parser, f"args#{stage.value}", parser.get(ckpt_id))
    pruned = prune(parser, stage) if stage is not None else parser
    # What the stage builds: `vars` and `_meta_` only matter where something refers to them.
    roots = [key for key in pruned.config if key not in ("vars", "_meta_")]
    check_references(pruned.graph, roots)
    project = _import_project(parser)
    parser.check_overrides()
    # Everything else visible without building (targets, argument names and literal types,
    # expression names) is reported now, all at once, before a dataset or model is constructed.
    problems = pruned.find_problems(roots)
    if problems:
        raise problems[0] if len(problems) == 1 else ValidationError(problems)
    configured_seed = resolve_seed(parser)  # before Lightning loads: a bad seed fails fast

    from lighter.engine.launchers import detect_launch, fresh_store_after_restart, lightning_nodes
    from lighter.engine.reproduce import choose_seed, recorded_config

    launch = detect_launch()
    if launch is None and "trainer#num_nodes" in parser:
        launch = lightning_nodes(parser.get_parsed_content("trainer#num_nodes"))
        if launch is not None and launch.rank > 0:
            from pytorch_lightning.utilities import rank_zero_only

            rank_zero_only.rank = launch.rank  # not global rank 0: print nothing (Lightning sets it later)
    # Under torchrun or srun every rank runs this line: rank 0's draw reaches the others (and a
    # group torchrun restarted takes the first attempt's seed).
    seed = choose_seed(configured_seed, launch=launch)
    fresh_store_after_restart(launch)
    if resume is None and stage is Stage.FIT:
        resume = _restarted(parser, launch)
    record = recorded_config(parser.config, seed)
    if project is not None:
        # A relative `project` was found from the cwd or the config's folder; the saved config
        # lives elsewhere, so it records the folder that was actually imported.
        record["project"] = str(project)
    return Prepared(pruned, record, seed, resume)


def _restarted(parser: ConfigParser, launch: Any) -> Resume | None:
    """A group torchrun restarted (``--max-restarts``) continues its first attempt's run folder.

    From that folder's last checkpoint when ``args#fit#ckpt_path`` is ``last``; otherwise the fit
    starts over there, as Lightning would, and says how to make it continue.
    """
    from lighter.engine.launchers import recall
    from lighter.engine.resume import CONFIG_FILE, find_checkpoint

    previous = recall("run-folder", launch)
    if previous is None:
        return None
    folder = Path(previous)
    wanted = parser.get("args#fit#ckpt_path") if "args#fit#ckpt_path" in parser else None
    checkpoint = find_checkpoint(folder) if wanted == "last" else None
    restart = f"torchrun restarted the run (restart {launch.restart})"
    if wanted == "last":  # from the run folder's checkpoint, else Lightning looks in a set dirpath
        _say(f"{restart}: continuing it in its run folder from the last checkpoint")
    else:
        _say(
            f"{restart}: the fit starts over in {folder} (to continue from the last epoch instead, "
            "give a ModelCheckpoint save_last: true and set args#fit#ckpt_path: last)"
        )
    return Resume(folder, folder / CONFIG_FILE, checkpoint)


def attach(system: Any, trainer: Any, prepared: Prepared) -> Any:
    """Give the run its config, its folder and atomic checkpoints; return the :class:`~lighter.engine.run_folder.RunFolder`.

    In a single process the folder is decided now (the tuner stages swap the Trainer's callbacks
    while they run); in a multi-process run at ``setup``, once the processes can agree on it.
    """
    from lighter.engine.checkpoint_io import use_atomic_checkpoints
    from lighter.engine.launchers import check_launch, detect_launch
    from lighter.engine.reproduce import RandomState, attach_config, config_text
    from lighter.engine.run_folder import RunFolder

    # Before the run folder: a Trainer that does not fit torchrun/srun must not leave one behind.
    check_launch(trainer, detect_launch(), locator(prepared.parser))
    attach_config(system, prepared.record)
    use_atomic_checkpoints(trainer)
    text = config_text(prepared.record, prepared.parser.location)  # with where each value came from
    folder = RunFolder(prepared.record, prepared.resume.folder if prepared.resume else None, text)
    folder.continue_logger(trainer)
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


def run(
    stage: Stage | str,
    config: str | Path | Sequence[str | Path],
    overrides: Sequence[str] = (),
    *,
    safe: bool | None = None,
    allow: Sequence[str] = (),
) -> Any:
    """Run ``stage`` of the experiment in ``config`` with command-line style ``overrides``.

    On SIGTERM or SIGINT the stage stops after the current batch (``fit`` saves a checkpoint to
    resume from) and :class:`~lighter.errors.Interrupted` is raised.

    Args:
        stage: A :class:`Stage` or its name (``"fit"``, ``"lr_find"`` …).
        config: A config path, comma-separated paths, or a list of paths; later files win. For
            ``fit``, a run folder continues that run from its last checkpoint.
        overrides: ``["--trainer#max_epochs=3", ...]``, values parsed as YAML.
        safe: Safe mode for a config you did not write: refuse it, before anything runs, if it
            would run code outside the allowed packages (see :mod:`lighter.config.safety`).
            ``None`` reads ``LIGHTER_SAFE``.
        allow: Packages to allow besides the default ones (``"project"`` allows the project
            folder); ``LIGHTER_ALLOW`` adds more.

    Returns:
        What the Trainer/Tuner call returned (e.g. the predictions, or the lr finder); for ``fit``,
        the final metrics by name.

    Raises:
        LighterError: Any mistake in the config, located at its id and file:line.
    """
    from lighter.config.safety import allowed_packages, safe_requested

    stage_spec(stage)  # an unknown name fails here, with a suggestion
    stage = Stage(stage)
    safe = safe_requested() if safe is None else safe
    prepared = prepare(config, overrides, stage, safe=safe, allow=allowed_packages(allow) if safe else None)
    # Lightning loads only now, so every mistake above is reported without waiting for it.
    import pytorch_lightning as pl

    from lighter.engine.failures import RecordPosition, stage_failure
    from lighter.engine.reproduce import shared_seed
    from lighter.engine.signals import SignalWatch

    seed = prepared.seed
    position = RecordPosition()
    # Children of a DDP launch re-run this command line; the environment hands them the same seed.
    with shared_seed(seed), SignalWatch() as signals:
        try:
            _say(f"Seed: {seed}")
            pl.seed_everything(seed, workers=True, verbose=False)
            system, trainer = build(prepared.parser)
            attach(system, trainer, prepared)
            if stage is Stage.FIT:
                from lighter.engine.sweep_trial import attach_reporter

                attach_reporter(trainer)  # only when `lighter sweep` runs this fit as one of its trials
            trainer.callbacks.append(position)
            signals.watch(trainer, save_checkpoint=stage is Stage.FIT)
            # Safe mode: a checkpoint read (ckpt_path, a resumed run folder) unpickles nothing.
            reading = {"weights_only": True} if safe and stage in _READS_CHECKPOINT else {}
            result = execute(stage, system, trainer, prepared, **reading)
        except BaseException as error:
            if signals.stopped_by(error):  # whatever the signal caused, the signal is the story
                raise signals.interrupted(position.position, stage.value, config, overrides) from error
            failure = stage_failure(error, position, locator(prepared.parser), prepared.record)
            if failure is error:
                raise  # already a lighter error (now located), or not ours to reword (SystemExit)
            raise failure from error
        if signals.received is not None:  # arrived after the last batch: the results are complete
            raise signals.interrupted(None, stage.value, config, overrides, complete=True)
    return result
