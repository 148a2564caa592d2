"""``lighter check``: a pre-flight of a whole experiment, with every problem reported at once.

The same steps as a run up to the point where it would build: load and override, validate the
structure, check that each stage has the parts it needs, prune for the stage, import the
``project`` folder, then the config engine's own pre-flight (targets, signatures, annotations,
references, expressions; see :mod:`lighter.config.static_check`). Nothing is built: no dataset,
model or Trainer constructor is called.

Without a stage, the whole config is checked (nothing pruned) and each stage whose dataloader the
config sets up (``train`` → fit, ``val`` → validate, ``test`` → test, ``predict`` → predict) must
have the parts it needs; a config with no dataloaders at all is checked as for ``fit``. A config
with a ``sweep`` section is checked as ``lighter sweep`` reads it: the section itself (params,
distributions, the ids they set), and the rest for ``fit``, which each trial runs.

With ``safe``, every place that would run code is listed first (:func:`lighter.config.safety.code_sites`);
if safe mode refuses any of them, those refusals are the problems and nothing else is done, since
the rest of the check imports the project and runs ``$import`` lines, which is what safe mode is for
not doing (judging a target imports only the packages safe mode's rules cover and those allowed).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from lighter.config import ConfigParser
from lighter.config.annotation import UNKNOWN
from lighter.config.graph import COMPONENT, EXPRESSION, REFERENCE
from lighter.config.ids import ancestors
from lighter.config.typecheck import type_problems
from lighter.engine.monitors import monitor_problems
from lighter.engine.project import import_configured_project, project_site
from lighter.engine.prune import check_stage, prune
from lighter.engine.schema import find_problems, is_reference
from lighter.engine.stages import Stage, stage_spec
from lighter.errors import LighterError, Location, StageError, did_you_mean

__all__ = ["CheckReport", "stages_to_check", "check_config"]

# The stage that uses each mode's dataloader, for a check without --stage.
_MODE_STAGES = {"train": Stage.FIT, "val": Stage.VALIDATE, "test": Stage.TEST, "predict": Stage.PREDICT}


@dataclass
class CheckReport:
    """What :func:`check_config` found.

    Attributes:
        stages: The stages the config was checked for.
        problems: Every problem, each a located :class:`~lighter.errors.LighterError`.
        components: How many components were checked (imported, signature and annotations read).
        references: How many ``@`` references were checked.
        expressions: How many ``$`` expressions were checked.
        sites: With ``safe``: every place in the config that would run code, allowed or not.
        sweep: The config has a ``sweep`` section, which was checked as ``lighter sweep`` reads it
            (its trials are fits: without a stage, the rest is checked for ``fit``).
    """

    stages: list[Stage]
    problems: list[LighterError] = field(default_factory=list)
    components: int = 0
    references: int = 0
    expressions: int = 0
    sites: list[Any] = field(default_factory=list)
    sweep: bool = False

    @property
    def ok(self) -> bool:
        """No problem found."""
        return not self.problems


def stages_to_check(config: Mapping, imported: bool = False) -> list[Stage]:
    """The stages a config sets up: one per dataloader mode it defines (``fit`` when none).

    With ``imported`` (the ``project`` folder is), the modes a ``data`` DataModule class defines a
    loader for count too.
    """
    system = config.get("system")
    loaders = system.get("dataloaders") if isinstance(system, Mapping) else None
    modes = {mode for mode in _MODE_STAGES if isinstance(loaders, Mapping) and loaders.get(mode) is not None}
    if imported:
        from lighter.engine.module_kind import data_modes

        modes |= data_modes(config)
    return [stage for mode, stage in _MODE_STAGES.items() if mode in modes] or [Stage.FIT]


def check_config(
    config: str | Path | Sequence[str | Path],
    overrides: Sequence[str] = (),
    stage: Stage | str | None = None,
    *,
    safe: bool = False,
    allow: Sequence[str] = (),
) -> CheckReport:
    """Check the experiment in ``config`` (with ``overrides``) without building anything.

    Args:
        config: A config path, comma-separated paths, or a list of paths.
        overrides: ``["--trainer#max_epochs=3", ...]``.
        stage: Check for this stage only (its parts, and only what it builds); ``None``: see the
            module docstring.
        safe: List what would run code and refuse what safe mode refuses (see the module docstring).
        allow: Packages safe mode allows besides the defaults (``"project"`` for the project folder).

    Returns:
        The report; its ``problems`` are in file and line order.

    Raises:
        LighterError: A file that cannot be read or parsed, or a malformed override (nothing else
            can be checked then).
    """
    from lighter.engine.runner import load

    # In safe mode a key an override creates is not checked against its target yet: that imports it.
    parser = load(config, overrides, check_targets=not safe)
    sweep = parser.config.get("sweep") is not None
    stages = [Stage(stage)] if stage is not None else [Stage.FIT] if sweep else stages_to_check(parser.config)
    report = CheckReport(stages, sweep=sweep)
    if safe:
        from lighter.config.safety import allowed_packages, code_sites
        from lighter.errors import UnsafeConfigError

        report.sites = code_sites(parser, allowed_packages(allow))
        marked = project_site(parser, allowed_packages(allow))  # a folder a __lighter__.py marks
        if marked is not None:
            report.sites.insert(0, marked)
        refused = [site for site in report.sites if site.refusal is not None]
        if refused:
            report.problems = [UnsafeConfigError(s.refusal, id=s.id, location=s.location) for s in refused]
            return report
    try:  # first: the stages a `data` section sets up are known once its class imports
        import_configured_project(parser)
        project_problem = None
    except LighterError as error:
        project_problem = error
    if stage is None and not sweep:
        stages = report.stages = stages_to_check(parser.config, project_problem is None)
    structure = find_problems(parser.config, parser.location, sweep=sweep)
    report.problems += structure
    for each in stages:
        try:
            check_stage(parser.config, each, parser.location)
        except LighterError as error:
            if str(error) not in {str(p) for p in report.problems}:
                report.problems.append(error)
    checked = parser
    if stage is not None and not structure:
        checked = prune(parser, stage)
    if project_problem is not None:
        report.problems.append(project_problem)
    else:
        report.problems += _kind_problems(parser, stages, report.problems)
    if sweep:  # after the project: a param may name an argument of a project class
        report.problems += _sweep_problems(parser, config)
    # A key the structure check already reports (system#crit) is not reported again as an
    # unexpected argument of its component: one problem per line.
    reported = {_line(p) for p in structure}
    report.problems += [p for p in checked.find_problems() if _line(p) not in reported]
    for each in stages:
        report.problems += _stage_argument_problems(checked, each)
        report.problems += monitor_problems(checked, each)
    report.problems.sort(key=_order(parser.files))
    _count(checked, report)
    return report


def _kind_problems(
    parser: ConfigParser, stages: list[Stage], found: list[LighterError]
) -> list[LighterError]:
    """``system`` and ``data`` once their targets import (see :mod:`lighter.engine.module_kind`).

    A subclass of System is known only now: its stages are checked as a System's.
    """
    from lighter.engine.module_kind import kind_problems, literal_kind, resolve_kind
    from lighter.engine.runner import locator

    where = locator(parser)
    problems = kind_problems(parser.config, stages, where)
    if problems or literal_kind(parser.config) is not None or not resolve_kind(parser.config, where):
        return problems
    seen = {str(p) for p in found}
    for each in stages:
        try:
            check_stage(parser.config, each, parser.location, system=True)
        except LighterError as error:
            if str(error) not in seen:
                problems.append(error)
    return problems


def _sweep_problems(parser: ConfigParser, config: str | Path | Sequence[str | Path]) -> list[LighterError]:
    """What ``lighter sweep`` would refuse in the ``sweep`` section (its trials are fits of the rest)."""
    from lighter.engine.sweep_spec import parse_sweep
    from lighter.errors import ValidationError

    first = (
        config[0]
        if isinstance(config, Sequence) and not isinstance(config, str)
        else str(config).split(",")[0]
    )
    try:
        parse_sweep(parser, name=Path(first).stem)
    except ValidationError as error:
        return list(error.errors)
    return []


def _stage_argument_problems(parser: ConfigParser, stage: Stage) -> list[LighterError]:
    """``args#<stage>``: names the stage call takes, and literal values of the types it declares.

    The run checks the names again once ``args`` is resolved (``@``/``$`` values included).
    """
    raw = parser.get(f"args#{stage.value}")
    if not isinstance(raw, Mapping) or not raw:
        return []
    method = _stage_method(stage)
    if method is None:
        return []
    id_ = f"args#{stage.value}"
    accepted = [
        name
        for name, p in inspect.signature(method).parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ][1:]  # the first parameter receives the system
    problems: list[LighterError] = [
        StageError(
            f"stage '{stage.value}' takes no argument '{key}'",
            id=f"{id_}#{key}",
            location=parser.location(f"{id_}#{key}"),
            suggestion=did_you_mean(str(key), accepted) or f"it takes: {', '.join(accepted)}",
        )
        for key in raw
        if key not in accepted
    ]
    known = {key: UNKNOWN if is_reference(value) else value for key, value in raw.items() if key in accepted}

    def where(key: str) -> Location | None:
        for candidate in ancestors(f"{id_}#{key}"):
            found = parser.location(candidate)
            if found is not None:  # file:line, as every other problem shows it
                return Location(found.file, found.line) if found.column is not None else found
        return None

    return problems + type_problems(method, [], known, id=id_, where=where)


def _stage_method(stage: Stage) -> Any:
    """The callable a stage runs, read from the stage table without building a Trainer.

    The table's ``method(trainer)`` is given a stand-in whose entry points are the Trainer's own
    functions with ``self`` bound to nothing (only their signatures are read), and whose strategy
    is a single-device one, which is what the tuner stages require.
    """
    from pytorch_lightning import Trainer
    from pytorch_lightning.strategies import SingleDeviceStrategy

    stand_in = SimpleNamespace(
        **{
            name: functools.partial(getattr(Trainer, name), None)
            for name in ("fit", "validate", "test", "predict")
        },
        strategy=SingleDeviceStrategy.__new__(SingleDeviceStrategy),
    )
    try:
        return stage_spec(stage).method(stand_in)
    except Exception:  # noqa: BLE001 - a table entry this stand-in does not satisfy: skip the check
        return None


def _line(error: LighterError) -> tuple[str, int | None] | None:
    where = error.location
    return (where.file, where.line) if isinstance(where, Location) and where.line is not None else None


def _order(files: list[Path]):  # noqa: ANN202
    rank = {str(path): index for index, path in enumerate(files)}

    def key(error: LighterError) -> tuple[int, int]:
        where = error.location
        if isinstance(where, Location) and where.file in rank:
            return rank[where.file], where.line or 0
        return len(rank), 0  # the command line and unlocated problems last

    return key


def _count(parser: ConfigParser, report: CheckReport) -> None:
    try:
        parser.parse(reset=False)
    except LighterError:
        return
    kinds = [node[0] for node in parser.graph.nodes.values()]
    report.components = kinds.count(COMPONENT)
    report.references = kinds.count(REFERENCE)
    report.expressions = kinds.count(EXPRESSION)
