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
from lighter.engine.evaluate import Evaluation, plan_evaluation, resolve_resume, run_folder_config
from lighter.engine.monitors import monitor_problems
from lighter.engine.project import import_configured_project
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
    "build_data",
    "build_part",
    "build_system",
    "locator",
    "attach",
    "stage_args",
    "execute",
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


def build_system(parser: ConfigParser) -> Any:
    """Build ``system``: a ``lighter.System`` or any LightningModule of the user's.

    Its dataloaders remember their arguments, so that scale_batch_size rebuilds each with its
    class and every argument kept.

    Raises:
        ConfigError: ``system`` built something that is not a LightningModule (located).
    """
    import pytorch_lightning as pl

    from lighter._system.dataloaders import recording_init_args
    from lighter.engine.module_kind import not_a_module

    with recording_init_args():
        system = parser.get_parsed_content("system")
    if not isinstance(system, pl.LightningModule):
        raise not_a_module(system, locator(parser))
    return system


def build(parser: ConfigParser) -> tuple[Any, Any]:
    """Build ``(system, trainer)``: a LightningModule (``lighter.System`` or the user's) and a ``Trainer``."""
    from pytorch_lightning import Trainer

    # The system first: its mistakes are the common ones, and they should surface before the
    # Trainer starts printing about devices.
    system = build_system(parser)
    trainer = build_part(parser, "trainer", Trainer, "pytorch_lightning.Trainer")
    return system, trainer


def build_data(parser: ConfigParser) -> Any:
    """Build ``data``, the LightningDataModule every stage call gets as ``datamodule=``; ``None`` without one.

    Raises:
        ConfigError: ``data`` built something that is not a LightningDataModule (located).
    """
    from lighter.engine.module_kind import has_data, not_a_datamodule

    if not has_data(parser.config):
        return None
    import pytorch_lightning as pl

    data = parser.get_parsed_content("data")
    if not isinstance(data, pl.LightningDataModule):
        raise not_a_datamodule(data, locator(parser))
    return data


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
        evaluation: How an evaluating stage runs on a run folder, or the note it prints
            (:mod:`lighter.engine.evaluate`).
        sources: Where each value of ``record``, flattened, was written (for the run record).
    """

    parser: ConfigParser
    record: dict[str, Any]
    seed: int
    resume: Resume | None = None
    evaluation: Evaluation | None = None
    sources: Mapping[str, str] | None = None


def prepare(
    config: str | Path | Sequence[str | Path],
    overrides: Sequence[str] = (),
    stage: Stage | None = None,
    *,
    safe: bool = False,
    allow: Sequence[str] | None = None,
) -> Prepared:
    """Load, override, validate, check and prune for ``stage`` (if given), import ``project``, choose the seed.

    ``config`` may also be a run folder: ``fit`` continues it; ``validate``, ``test`` and
    ``predict`` evaluate its best checkpoint (see :mod:`lighter.engine.evaluate`).
    With ``safe``, a config that would run code outside ``allow`` is refused before anything else.
    """
    resume = plan_resume(config, stage, overrides) if isinstance(config, str | Path) and stage else None
    saved = run_folder_config(config, stage) if stage is not None else None
    # Cheap checks first: nothing below imports torch or Lightning until the config has passed
    # every check that needs no import (a new key under `trainer` waits for check_overrides).
    source = saved or (resume.config if resume else config)
    parser = load(source, overrides, check_targets=False, safe=safe, allow=allow)
    evaluation = None
    validate_structure(parser.config, parser.location)
    if stage is not None:
        check_stage(parser.config, stage, parser.location)
        ckpt_id = f"args#{stage.value}#ckpt_path"
        if not is_reference(parser.get(ckpt_id)):  # checked again once resolved; a plain path fails fast
            _check_checkpoint(parser, f"args#{stage.value}", parser.get(ckpt_id))
        evaluation = plan_evaluation(parser, stage, saved.parent if saved else None)
        resume = resolve_resume(parser, resume)
    pruned = prune(parser, stage) if stage is not None else parser
    # What the stage builds: `vars` and `_meta_` only matter where something refers to them.
    roots = [key for key in pruned.config if key not in ("vars", "_meta_")]
    check_references(pruned.graph, roots)
    project = import_configured_project(parser)
    parser.check_overrides()
    # Now `system`'s target can be imported: the user's own module, or a System subclass, which
    # gets the System's stage checks and pruning only now.
    problems, pruned = _settle_kind(parser, pruned, stage, roots)
    # Everything else visible without building (targets, argument names and literal types,
    # expression names) is reported now, all at once, before a dataset or model is constructed.
    problems += pruned.find_problems(roots)
    if not problems and stage is not None:  # a monitor the stage never logs: before any data is built
        problems = monitor_problems(pruned, stage)
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
        # A relative `project` was found from the cwd or the config's folder, or a marker named
        # it; the saved config lives elsewhere, so it records the folder that was actually imported.
        record["project"] = str(project)
    from lighter.engine.records import flat_config, flat_sources

    sources = flat_sources(flat_config(record), locator(parser))  # the unpruned config knows every line
    return Prepared(pruned, record, seed, resume, evaluation, sources)


def _settle_kind(
    parser: ConfigParser, pruned: ConfigParser, stage: Stage | None, roots: list[str]
) -> tuple[list[Any], ConfigParser]:
    """What ``system`` and ``data`` are, once importable; a System subclass is checked and pruned as one.

    Returns:
        The problems found (``system`` not a LightningModule, ``data`` not a DataModule …) and the
        config to build.
    """
    from lighter.engine.module_kind import kind_problems, literal_kind, resolve_kind

    problems = kind_problems(parser.config, [stage] if stage is not None else [], locator(parser))
    if problems or stage is None or literal_kind(parser.config) is not None:
        return problems, pruned
    if resolve_kind(parser.config, locator(parser)):
        check_stage(parser.config, stage, parser.location, system=True)
        pruned = prune(parser, stage, system=True)
        check_references(pruned.graph, roots)
    return problems, pruned


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
    from lighter.engine.evaluate import decide_output, redirect_outputs
    from lighter.engine.hparams import LogConfig
    from lighter.engine.launchers import check_launch, detect_launch
    from lighter.engine.reproduce import RandomState, attach_config, config_text
    from lighter.engine.run_folder import RunFolder, use_default_logger

    # Before the run folder: a Trainer that does not fit torchrun/srun must not leave one behind.
    check_launch(trainer, detect_launch(), locator(prepared.parser))
    use_default_logger(trainer, prepared.parser.get("trainer#logger", None))
    attach_config(system, trainer, prepared.record)
    use_atomic_checkpoints(trainer)
    text = config_text(prepared.record, prepared.parser.location)  # with where each value came from
    evaluation = prepared.evaluation
    if evaluation is not None and evaluation.folder is not None:  # outputs stay in the evaluated run
        output = decide_output(evaluation, detect_launch())
        redirect_outputs(trainer, output)
        folder = RunFolder(prepared.record, output, text, output_of=evaluation.folder)
    else:
        folder = RunFolder(prepared.record, prepared.resume.folder if prepared.resume else None, text)
    folder.continue_logger(trainer)
    # First, so that its `setup` decides the folder before any checkpoint callback resolves its own.
    trainer.callbacks.insert(0, folder)
    trainer.callbacks.append(RandomState())
    trainer.callbacks.append(LogConfig(prepared.record))
    if trainer.num_devices * trainer.num_nodes == 1:
        folder.resolve(trainer)
    return folder


def execute(
    stage: Stage, system: Any, trainer: Any, prepared: Prepared, *, datamodule: Any = None, **args: Any
) -> Any:
    """Call the stage with ``args#<stage>`` (updated with ``args``), print its report, return its result.

    ``datamodule`` (built from ``data``) is passed as ``datamodule=``. ``fit`` returns
    :func:`~lighter.engine.recording.final_metrics` (Lightning's ``fit`` returns nothing).
    """
    from lighter.engine.module_kind import use_datamodule
    from lighter.engine.recording import final_metrics

    spec = stage_spec(stage)
    method = spec.method(trainer)
    call_args = {**stage_args(prepared.parser, stage, method), **args}
    if datamodule is not None:
        if "datamodule" in call_args:
            id_ = f"args#{stage.value}#datamodule"
            raise StageError(
                f"both data and {id_} give the stage a datamodule; give one",
                id=id_,
                location=prepared.parser.location(id_),
            )
        call_args["datamodule"] = datamodule
    use_datamodule(system, datamodule, spec.modes)
    resume = prepared.resume
    if resume is not None and resume.checkpoint is not None and "ckpt_path" not in args:
        _say(f"Resuming {resume.folder} from {resume.checkpoint.name}")
        call_args["ckpt_path"] = str(resume.checkpoint)
    evaluation = prepared.evaluation
    if evaluation is not None and evaluation.checkpoint is not None and "ckpt_path" not in args:
        _say(evaluation.reason or f"Checkpoint: {evaluation.checkpoint}")
        call_args["ckpt_path"] = str(evaluation.checkpoint)
    result = method(system, **call_args)
    for line in spec.report(result, trainer) if spec.report else []:
        _say(line)
    if evaluation is not None and evaluation.output is not None and trainer.is_global_zero:
        from lighter.engine.evaluate import save_metrics

        save_metrics(evaluation.output, final_metrics(trainer))
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

    from lighter.engine.evaluate import output_scope
    from lighter.engine.failures import RecordPosition, stage_failure
    from lighter.engine.recording import RunRecorder
    from lighter.engine.reproduce import shared_seed
    from lighter.engine.signals import SignalWatch

    seed = prepared.seed
    position = RecordPosition()
    recorder = RunRecorder(stage, prepared, overrides)
    # Children of a DDP launch re-run this command line; the environment hands them the same seed.
    with shared_seed(seed), output_scope(), SignalWatch() as signals:
        try:
            _say(f"Seed: {seed}")
            if prepared.evaluation is not None and prepared.evaluation.note:
                _say(prepared.evaluation.note)
            pl.seed_everything(seed, workers=True, verbose=False)
            system, trainer = build(prepared.parser)
            datamodule = build_data(prepared.parser)
            attach(system, trainer, prepared)
            trainer.callbacks.append(recorder)
            recorder.begin(trainer)  # in a single process the run folder is known now
            if stage is Stage.FIT:
                from lighter.engine.sweep_trial import attach_reporter

                attach_reporter(trainer)  # only when `lighter sweep` runs this fit as one of its trials
            trainer.callbacks.append(position)
            signals.watch(trainer, save_checkpoint=stage is Stage.FIT)
            # Safe mode: a checkpoint read (ckpt_path, a resumed run folder) unpickles nothing.
            reading = {"weights_only": True} if safe and stage in _READS_CHECKPOINT else {}
            result = execute(stage, system, trainer, prepared, datamodule=datamodule, **reading)
        except BaseException as error:
            if signals.stopped_by(error):  # whatever the signal caused, the signal is the story
                recorder.finish("interrupted", signal=signals.name)
                raise signals.interrupted(position.position, stage.value, config, overrides) from error
            failure = stage_failure(error, position, locator(prepared.parser), prepared.record)
            recorder.finish("failed", error=(str(failure).splitlines() or [type(failure).__name__])[0])
            if failure is error:
                raise  # already a lighter error (now located), or not ours to reword (SystemExit)
            raise failure from error
        if signals.received is not None:  # arrived after the last batch: the results are complete
            recorder.finish("interrupted", signal=signals.name)
            raise signals.interrupted(None, stage.value, config, overrides, complete=True)
        recorder.finish("completed")
    return result
