"""Safe mode: find everything in a config that would run code, and refuse what is not allowed.

A config can run any code: a ``$`` expression (also one given on the command line), ``$import``,
a ``_target_`` such as ``os.system``, ``_mode_: debug`` (the debugger), a ``project`` folder
(imported as a module). :func:`code_sites` lists every such place, located; in safe mode
:func:`check_safe` refuses, all at once and before anything is built:

* every ``$`` expression and ``$import``, except one that only reads a public attribute of an
  object the config builds, or calls one of its methods without arguments
  (``$@system#model.parameters()``): it can reach nothing that was not built from an allowed
  target;
* a ``_target_`` outside the allowed packages (by default :data:`DEFAULT_ALLOW`), a private name
  (``torch._C…``), or one of the few callables of allowed packages that import or run code by
  name (:data:`REFUSED_TARGETS`);
* ``_mode_: debug``;
* the ``project`` folder, unless ``project`` is allowed.

YAML tags other than the standard ones are refused by the loader in every mode.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lighter.config import graph as nodes
from lighter.config.ids import join_id
from lighter.errors import Location, UnsafeConfigError, ValidationError

if TYPE_CHECKING:
    from lighter.config.parser import ConfigParser

__all__ = [
    "DEFAULT_ALLOW",
    "REFUSED_TARGETS",
    "SAFE_ENV",
    "ALLOW_ENV",
    "CodeSite",
    "code_sites",
    "check_safe",
    "safe_requested",
    "allowed_packages",
]

DEFAULT_ALLOW = (
    "torch",
    "pytorch_lightning",
    "lightning",
    "lightning_fabric",
    "torchmetrics",
    "monai",
    "lighter",
)
"""Packages whose callables a config may name in safe mode, unless the user allows more."""

REFUSED_TARGETS = (
    "torch.hub",  # downloads and runs a repository's hubconf.py
    "torch.utils.cpp_extension",  # compiles and loads C++
    "torch.package",  # unpickles packaged code
    "monai.bundle",  # runs bundle configs, expressions included
    "monai.utils.module",  # instantiate/locate/optional_import: import anything by name
    "monai.utils.instantiate",
    "monai.utils.locate",
    "monai.utils.optional_import",
    "lighter.config",  # a config that builds a config parser escapes the check
    "lighter.engine",
    "lighter.cli",
)
"""Callables under allowed packages that run or import code chosen by a string: always refused."""

SAFE_ENV = "LIGHTER_SAFE"
ALLOW_ENV = "LIGHTER_ALLOW"

_PROJECT = "project"
_NAME = r"[A-Za-z]\w*"
# `$@id.attr.method()`: public attributes of a built object, at most one call, without arguments.
_READ_ONLY = re.compile(rf"^\$\s*@[\w#:]+(?:\.{_NAME})*(?:\(\s*\))?\s*$")


@dataclass(frozen=True)
class CodeSite:
    """One place in a config that would run code.

    Attributes:
        id: The config id (``system#optimizer#params``; a target's is ``…#_target_``).
        kind: ``"expression"``, ``"import"``, ``"target"``, ``"debug"`` or ``"project"``.
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
    """:data:`DEFAULT_ALLOW` plus ``extra`` and the comma-separated ``LIGHTER_ALLOW``."""
    added = [*extra, *environ.get(ALLOW_ENV, "").split(",")]
    names = [n.strip() for item in added for n in str(item).split(",")]
    return tuple(dict.fromkeys([*DEFAULT_ALLOW, *(n for n in names if n)]))


def code_sites(config: ConfigParser | nodes.Graph, allow: Iterable[str] = DEFAULT_ALLOW) -> list[CodeSite]:
    """Every place in a config that would run code, in config order, judged against ``allow``.

    Args:
        config: A :class:`~lighter.config.ConfigParser` (or its parsed :class:`~lighter.config.graph.Graph`).
            Macros (``%id``, ``%file.yaml#id``) are expanded first, so code they copy in is found
            where it lands.
        allow: The allowed packages (add ``"project"`` to allow the project folder).
    """
    graph = config if isinstance(config, nodes.Graph) else config.graph
    return _sites(graph, allow)


def _sites(graph: nodes.Graph, allow: Iterable[str]) -> list[CodeSite]:
    allow = tuple(allow)
    sites: list[CodeSite] = []
    project = graph.nodes.get(_PROJECT)
    if project is not None and project[1] is not None:
        folder = project[1]
        refusal = (
            None
            if _PROJECT in allow
            else f"safe mode refuses importing the project folder '{folder}' (allow it with --allow project)"
        )
        sites.append(CodeSite(_PROJECT, "project", str(folder), graph.where(_PROJECT), refusal))
    for id_, (kind, raw, _extra) in graph.nodes.items():
        where = graph.where(id_)
        if kind == nodes.IMPORT:
            sites.append(CodeSite(id_, "import", raw, where, f"safe mode refuses '$import': {raw}"))
        elif kind == nodes.EXPRESSION:
            refusal = None if _READ_ONLY.match(raw) else f"safe mode refuses '$' expressions: {raw}"
            sites.append(CodeSite(id_, "expression", raw, where, refusal))
        elif kind == nodes.COMPONENT:
            sites.extend(_component_sites(graph, id_, raw, allow))
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


def _component_sites(graph: nodes.Graph, id_: str, raw: dict, allow: tuple[str, ...]) -> list[CodeSite]:
    sites = []
    target_id = join_id(id_, "_target_")
    kind, text, extra = graph.nodes.get(target_id, (nodes.LITERAL, raw.get("_target_"), None))
    if kind == nodes.LITERAL:
        sites.append(CodeSite(target_id, "target", str(text), graph.where(target_id), _judge(text, allow)))
    elif kind == nodes.REFERENCE and graph.nodes.get(extra, (None,))[0] != nodes.COMPONENT:
        refusal = f"safe mode refuses a _target_ that refers to anything but a component: {text}"
        sites.append(CodeSite(target_id, "target", str(text), graph.where(target_id), refusal))
    # (a `$` target is an expression, judged as one; a reference to a component has its own target)
    mode_id = join_id(id_, "_mode_")
    if str(raw.get("_mode_", "")).strip() == "debug":
        refusal = "safe mode refuses _mode_: debug (it opens the debugger)"
        sites.append(CodeSite(mode_id, "debug", "debug", graph.where(mode_id), refusal))
    return sites


def _judge(target: object, allow: tuple[str, ...]) -> str | None:
    """Why safe mode refuses the dotted ``target``, or ``None`` when it is allowed."""
    if not isinstance(target, str) or not target.strip():
        return None  # not callable at all: the resolver reports it
    path = target.strip()
    parts = path.split(".")
    if any(part.startswith("_") for part in parts):
        return f"safe mode refuses private names in a target: '{path}'"
    refused = next((p for p in REFUSED_TARGETS if path == p or path.startswith(p + ".")), None)
    if refused is not None:
        return f"safe mode refuses '{path}': {refused} imports or runs code by name"
    package = parts[0]
    if len(parts) == 1 and package not in allow:
        import builtins

        # A bare name is a builtin, a module, or (MONAI's habit) a MONAI class.
        if hasattr(builtins, package):
            return f"safe mode refuses the builtin '{path}' as a target"
        if importlib.util.find_spec(package) is not None:
            return _outside(path, package, allow)
        return None if "monai" in allow else _outside(path, "monai", allow)
    if package not in allow:
        return _outside(path, package, allow)
    return None


def _outside(path: str, package: str, allow: tuple[str, ...]) -> str:
    return f"safe mode refuses target '{path}': '{package}' is not an allowed package (allowed: {', '.join(allow)}; add it with --allow {package})"
