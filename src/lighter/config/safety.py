"""Safe mode: find everything in a config that would run code, and refuse what is not allowed.

A config can run any code: a ``$`` expression (also one given on the command line), ``$import``,
a ``_target_`` such as ``os.system``, ``_mode_: debug`` (the debugger), a ``project`` folder
(imported as a module). :func:`code_sites` lists every such place, located; in safe mode
:func:`check_safe` refuses, all at once and before anything of the config is built:

* a ``_target_`` that is not on the default allow-list (built by rule and by review:
  :mod:`lighter.config.safe_list`) nor allowed by the user, or that is on the hard-deny list
  (unpickling, native libraries, processes, downloads, other configs and CLIs), which only
  allowing that exact name lifts;
* a ``$`` expression or ``$import`` outside the small language of
  :mod:`lighter.config.safe_expressions` (references, literals, lambdas, allowed callables);
* an argument that makes an allowed class unpickle or import by name
  (:mod:`lighter.config.safe_arguments`: ``allow_pickle``, ``weights_only``, MONAI's ``writer``);
* ``_mode_: debug``;
* the ``project`` folder and its targets, unless ``project`` is allowed.

YAML tags other than the standard ones are refused by the loader in every mode.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lighter.config import graph as nodes
from lighter.config.ids import join_id
from lighter.config.safe_arguments import argument_refusals
from lighter.config.safe_expressions import DEFAULT_BINDINGS, judge_expression, judge_import
from lighter.config.safe_list import Allowed, judge_target
from lighter.errors import (
    COMMAND_LINE,
    ConfigError,
    Location,
    UnsafeConfigError,
    ValidationError,
    did_you_mean,
)

if TYPE_CHECKING:
    from lighter.config.parser import ConfigParser

__all__ = [
    "DEFAULT_ALLOW",
    "SAFE_ENV",
    "ALLOW_ENV",
    "CodeSite",
    "code_sites",
    "check_safe",
    "safe_requested",
    "allowed_packages",
]

DEFAULT_ALLOW: tuple[str, ...] = ()
"""What the user allows besides the default allow-list (by rule: :mod:`lighter.config.safe_list`): nothing."""

SAFE_ENV = "LIGHTER_SAFE"
ALLOW_ENV = "LIGHTER_ALLOW"

_PROJECT = "project"


@dataclass(frozen=True)
class CodeSite:
    """One place in a config that would run code.

    Attributes:
        id: The config id (``system#optimizer#params``; a target's is ``…#_target_``).
        kind: ``"expression"``, ``"import"``, ``"target"``, ``"argument"`` (``allow_pickle``,
            ``weights_only``), ``"debug"`` or ``"project"``.
        text: What is written there (``$torch.randn(3)``, ``torch.nn.Linear``).
        location: Where it was written, if known.
        refusal: Why safe mode refuses it, or ``None`` when it is allowed.
    """

    id: str
    kind: str
    text: str
    location: Location | None
    refusal: str | None

    @property
    def allowed(self) -> bool:
        return self.refusal is None

    def __str__(self) -> str:
        """One line for a listing: ``exp.yaml:3 @ vars#x: expression $f(1) (safe mode refuses …)``."""
        where = f"{self.location} @ {self.id}" if self.location is not None else f"@ {self.id}"
        return f"{where}: {self.kind} {self.text} ({self.refusal or 'allowed'})"


def safe_requested(flag: bool = False, environ: Mapping[str, str] = os.environ) -> bool:
    """Whether safe mode is on: ``flag``, or ``LIGHTER_SAFE`` set to a true value (read now, not at import)."""
    return flag or environ.get(SAFE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def allowed_packages(extra: Iterable[str] = (), environ: Mapping[str, str] = os.environ) -> tuple[str, ...]:
    """What the user allows: ``extra`` (``--allow``) and the comma-separated ``LIGHTER_ALLOW``, checked.

    Each is ``project`` (the project folder), a package (``torchvision``) or a dotted name
    (``torch.utils.data.datapipes``, ``torch.load``).

    Raises:
        ConfigError: A name that does not exist (with the closest one that does).
    """
    given = [(n.strip(), "--allow") for item in extra for n in str(item).split(",")]
    given += [(n.strip(), ALLOW_ENV) for n in environ.get(ALLOW_ENV, "").split(",")]
    names = []
    for name, source in given:
        if name and name not in names:
            _check_allowed_name(name, source)
            names.append(name)
    return tuple(names)


def _check_allowed_name(name: str, source: str) -> None:
    where = COMMAND_LINE if source == "--allow" else Location(source)
    what = f"--allow {name}" if source == "--allow" else name
    if name == _PROJECT:
        return
    parts = name.split(".")
    if parts[0] == _PROJECT:
        raise ConfigError(
            f"{what}: the project folder is allowed as a whole", location=where, suggestion="--allow project"
        )
    if not all(part.isidentifier() for part in parts):
        raise ConfigError(
            f"{what}: not a package or dotted name", location=where, suggestion="e.g. --allow torchvision"
        )
    if importlib.util.find_spec(parts[0]) is None:
        import pkgutil  # only on the error path: scanning sys.path is slow

        candidates = [m.name for m in pkgutil.iter_modules() if not m.name.startswith("_")] + [_PROJECT]
        raise ConfigError(
            f"{what}: there is no package '{parts[0]}'",
            location=where,
            suggestion=did_you_mean(parts[0], candidates),
        )
    if len(parts) > 1:
        from lighter.config.components import locate
        from lighter.errors import LighterError

        try:
            locate(name, id="", location=where)  # the user trusts this package: importing it is fine
        except LighterError as error:
            raise ConfigError(
                f"{what}: {error.message}", location=where, suggestion=error.suggestion
            ) from error


def code_sites(config: ConfigParser | nodes.Graph, allow: Iterable[str] = DEFAULT_ALLOW) -> list[CodeSite]:
    """Every place in a config that would run code, in config order, judged against ``allow``.

    Args:
        config: A :class:`~lighter.config.ConfigParser` (or its parsed :class:`~lighter.config.graph.Graph`).
            Macros (``%id``, ``%file.yaml#id``) are expanded first, so code they copy in is found
            where it lands.
        allow: What the user allows besides the default allow-list (``"project"`` for the
            project folder, packages, dotted names).
    """
    graph = config if isinstance(config, nodes.Graph) else config.graph
    return _sites(graph, Allowed(tuple(allow)))


def _sites(graph: nodes.Graph, allowed: Allowed) -> list[CodeSite]:
    sites: list[CodeSite] = []
    project = graph.nodes.get(_PROJECT)
    if project is not None and project[1] is not None:
        folder = project[1]
        refusal = (
            None
            if allowed.project
            else f"safe mode refuses importing the project folder '{folder}' (allow it with --allow project)"
        )
        sites.append(CodeSite(_PROJECT, "project", str(folder), graph.where(_PROJECT), refusal))
    # Imports run first (as in MONAI) and bind names for every expression: judge them first.
    bindings = dict(DEFAULT_BINDINGS)
    imports: dict[str, str | None] = {}
    for id_ in graph.imports:
        refusal, bound = judge_import(graph.nodes[id_][2], allowed)
        imports[id_] = refusal
        bindings.update(bound)
    for id_, (kind, raw, extra) in graph.nodes.items():
        where = graph.where(id_)
        if kind == nodes.IMPORT:
            sites.append(CodeSite(id_, "import", raw, where, imports.get(id_)))
        elif kind == nodes.EXPRESSION:
            why = judge_expression(extra[0], allowed, bindings)
            sites.append(CodeSite(id_, "expression", raw, where, why and f"{why}: {raw}"))
        elif kind == nodes.COMPONENT:
            sites.extend(_component_sites(graph, id_, raw, allowed))
    return sites


def check_safe(config: ConfigParser | nodes.Graph, allow: Iterable[str] = DEFAULT_ALLOW) -> None:
    """Refuse a config (a parser or its graph) if it would run code that ``allow`` does not cover.

    Raises:
        ValidationError: One :class:`UnsafeConfigError` per refused place, all at once, located.
    """
    problems = [
        UnsafeConfigError(site.refusal, id=site.id, location=site.location)
        for site in code_sites(config, allow)
        if site.refusal is not None
    ]
    if problems:
        raise ValidationError(problems)


def _component_sites(graph: nodes.Graph, id_: str, raw: dict, allowed: Allowed) -> list[CodeSite]:
    sites = []
    target_id = join_id(id_, "_target_")
    kind, text, extra = graph.nodes.get(target_id, (nodes.LITERAL, raw.get("_target_"), None))
    if kind == nodes.LITERAL:
        refusal = judge_target(text.strip(), allowed, raw) if isinstance(text, str) and text.strip() else None
        sites.append(CodeSite(target_id, "target", str(text), graph.where(target_id), refusal))
    elif kind == nodes.REFERENCE and graph.nodes.get(extra, (None,))[0] != nodes.COMPONENT:
        refusal = f"safe mode refuses a _target_ that refers to anything but a component: {text}"
        sites.append(CodeSite(target_id, "target", str(text), graph.where(target_id), refusal))
    # (a `$` target is an expression, judged as one; a reference to a component has its own target)
    literal_target = text.strip() if kind == nodes.LITERAL and isinstance(text, str) else None
    for key, refusal in argument_refusals(literal_target, raw).items():
        key_id = join_id(id_, key)
        sites.append(CodeSite(key_id, "argument", f"{key}: {raw[key]}", graph.where(key_id), refusal))
    mode_id = join_id(id_, "_mode_")
    if str(raw.get("_mode_", "")).strip() == "debug":
        refusal = "safe mode refuses _mode_: debug (it opens the debugger)"
        sites.append(CodeSite(mode_id, "debug", "debug", graph.where(mode_id), refusal))
    return sites
