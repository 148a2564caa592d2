"""Safe mode's lists: what a config may call by default (by rule), and what it may never call.

Deny by default. A ``_target_`` (or a callable a ``$`` expression reaches) is allowed in safe mode
only when the object it names, once imported, passes one of :data:`RULES` (a class of a kind that
builds an experiment, defined where that kind lives: ``torch.nn`` modules, ``torch.optim``
optimizers, Lightning callbacks …) or is one of the reviewed plain functions of
:data:`REVIEWED` (tensor constructors). Judging the imported object, not the written name, also
catches aliases (``torch.nn.modules.loss.CrossEntropyLoss``) and names that reach elsewhere through
an attribute (``torch.nn.modules.module.os.system`` is ``os.system``).

Whatever is allowed, :data:`HARD_DENY` refuses the callables that unpickle or load code, load
native libraries, run processes, open network services or downloads, or build another config or
CLI; only allowing that exact dotted name lifts it.

Only the packages the rules cover (:data:`ROOTS`) and those the user allows are imported to judge a
target: the name of anything else is refused without importing it.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ROOTS",
    "RULES",
    "REVIEWED",
    "HARD_DENY",
    "Rule",
    "Allowed",
    "judge_target",
    "resolve",
    "hard_denied",
]

ROOTS = ("torch", "torchmetrics", "monai", "pytorch_lightning", "lightning", "lightning_fabric", "lighter")
"""Packages the default rules cover: imported (trusted) to judge a target named in them."""


@dataclass(frozen=True)
class Rule:
    """Classes that are ``base`` (or subclass it) and are defined under one of ``under``.

    Attributes:
        what: The kind, as the docs table names it.
        bases: Dotted names of the base classes (any of them).
        under: Module prefixes the class must be defined in.
        why: Why building one is safe to allow.
    """

    what: str
    bases: tuple[str, ...]
    under: tuple[str, ...]
    why: str

    def matches(self, obj: Any) -> bool:
        if not inspect.isclass(obj) or not _defined_under(obj, self.under):
            return False
        found = [base for base in (_load(b) for b in self.bases) if inspect.isclass(base)]
        return any(issubclass(obj, base) for base in found)


_PL = ("pytorch_lightning", "lightning.pytorch")
RULES: tuple[Rule, ...] = (
    Rule("torch.nn modules and losses", ("torch.nn.Module",), ("torch.nn",), "layers hold tensors"),
    Rule("torch.optim optimizers", ("torch.optim.Optimizer",), ("torch.optim",), "update parameters"),
    Rule(
        "torch.optim.lr_scheduler schedulers",
        ("torch.optim.lr_scheduler.LRScheduler", "torch.optim.lr_scheduler.ReduceLROnPlateau"),
        ("torch.optim",),
        "change the learning rate",
    ),
    Rule(
        "torch.utils.data datasets, samplers and DataLoader",
        ("torch.utils.data.Dataset", "torch.utils.data.Sampler", "torch.utils.data.DataLoader"),
        ("torch.utils.data",),
        "index and batch data",
    ),
    Rule(
        "torchmetrics metrics and MetricCollection",
        ("torchmetrics.Metric", "torchmetrics.MetricCollection"),
        ("torchmetrics",),
        "accumulate tensors",
    ),
    Rule(
        "MONAI networks (nets, blocks, layers)",
        ("torch.nn.Module",),
        ("monai.networks",),
        "layers hold tensors",
    ),
    Rule("MONAI losses", ("torch.nn.Module",), ("monai.losses",), "compute on tensors"),
    Rule("MONAI metrics", ("monai.metrics.metric.Metric",), ("monai.metrics",), "compute on tensors"),
    Rule("MONAI inferers", ("monai.inferers.Inferer",), ("monai.inferers",), "call the model"),
    Rule(
        "MONAI transforms and Compose",
        ("monai.transforms.Transform",),
        ("monai.transforms",),
        "transform data (reading images with MONAI's own readers)",
    ),
    Rule(
        "MONAI datasets, samplers and DataLoader (not the caching ones that unpickle)",
        ("torch.utils.data.Dataset", "torch.utils.data.Sampler", "torch.utils.data.DataLoader"),
        ("monai.data",),
        "index and batch data",
    ),
    Rule("Lightning's Trainer", tuple(f"{p}.Trainer" for p in _PL), _PL, "runs the stages"),
    Rule(
        "Lightning callbacks",
        tuple(f"{p}.callbacks.Callback" for p in _PL),
        tuple(f"{p}.callbacks" for p in _PL),
        "hook into the loop",
    ),
    Rule(
        "Lightning loggers",
        tuple(f"{p}.loggers.Logger" for p in _PL),
        tuple(f"{p}.loggers" for p in _PL),
        "record metrics (some send them to a server the config names)",
    ),
    Rule("lighter.System and its subclasses", ("lighter.system.System",), ("lighter",), "binds the parts"),
    Rule("lighter adapters", ("builtins.object",), ("lighter.adapters",), "reorder batches and arguments"),
    Rule(
        "lighter callbacks",
        tuple(f"{p}.callbacks.Callback" for p in _PL),
        ("lighter.callbacks",),
        "write predictions, freeze layers",
    ),
)
"""The default allow-list: a class passing one of these rules may be a target in safe mode."""

REVIEWED: dict[str, str] = {
    # Tensor constructors and seeding: they take sizes and numbers and return tensors.
    **{
        f"torch.{name}": "tensor constructor"
        for name in (
            "randn rand randint randperm randn_like rand_like zeros ones full empty arange linspace "
            "logspace eye tensor as_tensor zeros_like ones_like full_like stack cat manual_seed Generator"
        ).split()
    },
    # Elementwise math the docs' expressions use (`$lambda x: torch.sigmoid(x) > 0.5`).
    **{f"torch.{name}": "tensor math" for name in "sigmoid softmax argmax argmin where clamp".split()},
    "torch.utils.data.default_collate": "collates a batch",
    "torch.utils.data.random_split": "splits a dataset",
    "monai.data.utils.pad_list_data_collate": "collates a batch",
    "monai.data.list_data_collate": "collates a batch",
    "torch.load": "only with weights_only: true (tensors and plain types, nothing unpickled)",
}
"""Plain callables allowed by review, by dotted name (judged by identity, so aliases count)."""
_FUNCTIONAL = "torch.nn.functional"  # every public function there: tensor math, reviewed as a whole

HARD_DENY: dict[str, str] = {
    # Unpickling or loading code.
    "torch.load": "it unpickles (allowed only with weights_only: true)",
    "torch.serialization.load": "it unpickles (allowed only with weights_only: true)",
    "torch.serialization.add_safe_globals": "it widens what weights_only loading unpickles",
    "torch.serialization.safe_globals": "it widens what weights_only loading unpickles",
    "torch.jit": "it loads and runs compiled code",
    "torch.hub": "it downloads and runs a repository's code",
    "torch.utils.model_zoo": "it downloads and unpickles",
    "torch.package": "it unpickles packaged code",
    "monai.data.PersistentDataset": "it unpickles its cache files",
    "monai.data.LMDBDataset": "it unpickles its cache",
    "numpy.load": "it can unpickle",
    "pickle": "it unpickles",
    "dill": "it unpickles",
    "joblib": "it unpickles",
    "marshal": "it loads code",
    "lighter.load": "it builds a config without safe mode",
    "lighter.load_checkpoint": "it builds the config a checkpoint carries without safe mode",
    "lighter.api": "it builds configs without safe mode",
    # Native libraries.
    "torch.ops": "it loads native libraries",
    "torch.classes": "it loads native libraries",
    "torch.utils.cpp_extension": "it compiles and loads native code",
    "ctypes": "it loads native libraries",
    # Processes and shells.
    "torch.utils.collect_env": "it runs shell commands",
    "monai.utils.run_cmd": "it runs shell commands",
    "monai.utils.misc.run_cmd": "it runs shell commands",
    "subprocess": "it runs processes",
    "os": "it runs processes and changes files",
    "posix": "it runs processes and changes files",
    "pty": "it runs processes",
    "multiprocessing": "it starts processes running any callable",
    "torch.multiprocessing": "it starts processes running any callable",
    "torch.distributed.run": "it starts processes",
    "torch.distributed.launch": "it starts processes",
    "torch.distributed.elastic": "it starts processes",
    "builtins": "it holds eval, exec and open",
    "importlib": "it imports anything by name",
    "runpy": "it runs modules",
    "code": "it runs code",
    "pdb": "it opens the debugger",
    "sys": "it reaches the interpreter",
    # Network services and downloads.
    "torch.distributed.rpc": "it opens a server that runs remote calls",
    "monai.apps.utils": "it downloads and extracts archives",
    "monai.apps.mmars": "it downloads and loads models",
    "urllib": "it downloads",
    "http": "it opens network connections",
    "socket": "it opens network connections",
    "requests": "it downloads",
    # Another config or CLI, built without safe mode.
    "lighter.config": "it builds a config without safe mode",
    "lighter.engine": "it runs a config without safe mode",
    "lighter.cli": "it runs the lighter command",
    "lighter.__main__": "it runs the lighter command",
    "monai.bundle": "it runs bundle configs, expressions included",
    "monai.utils.module": "it imports anything by name",
    "monai.utils.instantiate": "it imports anything by name",
    "monai.utils.locate": "it imports anything by name",
    "monai.utils.optional_import": "it imports anything by name",
    "pytorch_lightning.cli": "it builds a config and runs a CLI",
    "lightning.pytorch.cli": "it builds a config and runs a CLI",
    "lightning.fabric.cli": "it runs a CLI",
    "lightning_fabric.cli": "it runs a CLI",
    "typer": "it runs a CLI",
    "click": "it runs a CLI",
    "hydra": "it builds a config",
    "jsonargparse": "it builds a config",
}
"""Refused whatever package is allowed: by dotted-name prefix (the written name and the object's own)."""

# By the last part of a name, wherever it is defined.
_HARD_DENY_NAMES = {
    "load_from_checkpoint": "it unpickles a checkpoint and builds what it names",
    "load_library": "it loads a native library",
    "run_cmd": "it runs shell commands",
}
_HARD_DENY_PREFIXES = {"download": "it downloads"}


@dataclass(frozen=True)
class Allowed:
    """What the user allows besides the defaults: ``project`` and dotted names or packages."""

    names: tuple[str, ...] = ()

    @property
    def project(self) -> bool:
        return "project" in self.names

    def covers(self, name: str | None) -> bool:
        """Whether ``name`` is an allowed name or inside an allowed package."""
        return name is not None and any(name == n or name.startswith(n + ".") for n in self.names)

    def exactly(self, *names: str | None) -> bool:
        return any(name in self.names for name in names if name)


def hard_denied(name: str | None) -> str | None:
    """Why ``name`` (a dotted name) is refused whatever is allowed, or ``None``."""
    if not name:
        return None
    for prefix, why in HARD_DENY.items():
        if name == prefix or name.startswith(prefix + "."):
            return f"{why} ({prefix})" if name != prefix else why
    last = name.rpartition(".")[2]
    if last in _HARD_DENY_NAMES:
        return _HARD_DENY_NAMES[last]
    for start, why in _HARD_DENY_PREFIXES.items():
        if last.lower().startswith(start):
            return why
    return None


def _hard_denied_object(obj: Any) -> str | None:
    """Classes refused by what they are, wherever they are re-exported (``monai.data.CacheNTransDataset``)."""
    # A subclass of them exists only once monai.data is imported: otherwise MONAI is not loaded for this.
    if inspect.isclass(obj) and "monai.data" in sys.modules:
        for name in ("monai.data.PersistentDataset", "monai.data.LMDBDataset"):
            base = _load(name)
            if inspect.isclass(base) and issubclass(obj, base):
                return f"a {name} subclass: {HARD_DENY[name]}"
    return None


def resolve(path: str) -> Any:
    """Import ``path`` (a dotted name, or a bare MONAI name); raise ``ImportError``/``AttributeError``."""
    parts = path.split(".")
    if len(parts) == 1:
        from lighter.config.components import locate

        return locate(path, id="", location=None)
    obj = importlib.import_module(parts[0])
    reached = parts[0]
    for part in parts[1:]:
        if hasattr(obj, part):
            obj = getattr(obj, part)
        elif inspect.ismodule(obj):
            obj = importlib.import_module(f"{reached}.{part}")
        else:
            raise AttributeError(f"'{reached}' has no attribute '{part}'")
        reached = f"{reached}.{part}"
    return obj


def own_name(obj: Any) -> str | None:
    """The dotted name an object was defined under (``torch.serialization.load``), if it has one."""
    if inspect.ismodule(obj):
        return obj.__name__
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        return None
    return f"{module}.{qualname}"


def judge_target(
    path: str, allowed: Allowed, arguments: Mapping[str, Any] | None = None, *, value_ok: bool = False
) -> str | None:
    """Why safe mode refuses the callable named ``path``, or ``None`` when it is allowed.

    Args:
        path: The dotted name as written (``torch.nn.Linear``; a bare name is a MONAI class).
        allowed: What the user allows besides the defaults.
        arguments: The component's literal arguments (``weights_only: true`` lifts ``torch.load``).
        value_ok: Allow a non-callable value (``torch.float32`` in an expression).
    """
    parts = path.split(".")
    if not all(part.isidentifier() for part in parts):
        return None  # not an import path: the resolver reports it
    if any(part.startswith("_") for part in parts):
        return f"safe mode refuses private names: '{path}'"
    if parts[0] == "project":
        return (
            None
            if allowed.project
            else f"safe mode refuses '{path}' from the project folder (allow it with --allow project)"
        )
    hard = _lift(path, hard_denied(path), allowed, arguments)
    if hard is not None:
        return hard
    if len(parts) == 1 and hasattr(builtins, path):
        return None if allowed.exactly(path) else f"safe mode refuses the builtin '{path}'"
    if allowed.exactly(path):
        return None
    if parts[0] not in ROOTS and not allowed.covers(path):
        # Judged by name: nothing of an unlisted package is imported (a bare name may be one).
        if len(parts) > 1 or importlib.util.find_spec(path) is not None:
            return _not_listed(path)
    try:
        obj = resolve(path)
    except Exception:  # noqa: BLE001 - it cannot be called either: the resolver reports why
        return None
    canonical = own_name(obj)
    hard = _lift(path, hard_denied(canonical) or _hard_denied_object(obj), allowed, arguments, canonical)
    if hard is not None:
        return hard
    if inspect.ismodule(obj):
        return f"safe mode refuses a module as a value: '{path}'"
    if canonical == "torch.serialization.load":
        return None  # with weights_only: true (else refused above): tensors and plain types only
    if (
        allowed.covers(canonical)
        or (canonical is None and allowed.covers(path))
        or allowed.exactly(canonical)
    ):
        return None
    if _by_rule(obj) or (value_ok and not callable(obj)):
        return None
    return _not_listed(path)


def _lift(
    path: str,
    why: str | None,
    allowed: Allowed,
    arguments: Mapping[str, Any] | None,
    canonical: str | None = None,
) -> str | None:
    if why is None or allowed.exactly(path, canonical):
        return None
    if "torch.serialization.load" in (path, canonical) or path == "torch.load":
        if arguments is not None and arguments.get("weights_only") is True:
            return None
        return f"safe mode refuses '{path}' unless weights_only: true: {why}"
    return f"safe mode refuses '{path}' whatever is allowed: {why} (only --allow {path}, this exact name, lifts it)"


def _by_rule(obj: Any) -> bool:
    if any(rule.matches(obj) for rule in RULES):
        return True
    for name in REVIEWED:
        if name != "torch.load" and _load(name) is obj:
            return True
    functional = _load(_FUNCTIONAL)
    return (
        (inspect.isfunction(obj) or inspect.isbuiltin(obj))
        and functional is not None
        and vars(functional).get(getattr(obj, "__name__", "")) is obj
    )


def _not_listed(path: str) -> str:
    package = path.split(".")[0]
    how = f"--allow {path}" + (f" or --allow {package}" if package != path else "")
    return f"safe mode refuses '{path}': it is not on safe mode's allow-list (allow it with {how})"


def _defined_under(obj: Any, prefixes: Iterable[str]) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return any(module == p or module.startswith(p + ".") for p in prefixes)


_LOADED: dict[str, Any] = {}


def _load(name: str) -> Any:
    """The object at ``name``, or ``None`` when its package is not installed (cached)."""
    if name not in _LOADED:
        try:
            _LOADED[name] = resolve(name)
        except Exception:  # noqa: BLE001 - an optional package (lightning) may be missing
            _LOADED[name] = None
    return _LOADED[name]
