"""``ConfigParser``: MONAI's ``ConfigParser`` API on lighter's loader, merger and resolver.

The pipeline reads like the data flow: files are loaded with locations (:mod:`.loader`), merged
(:mod:`.merge`), overridden (:mod:`.overrides`), parsed once into a node table (:mod:`.graph`)
and resolved lazily (:mod:`.resolver`). The caller's dicts are copied once, when they come in,
and never modified.
"""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from lighter.config import ids
from lighter.config.expressions import Names
from lighter.config.graph import Graph, all_ids, build_graph
from lighter.config.loader import Locations, load_file
from lighter.config.merge import container_key, copy_tree, forget_locations, merge_into
from lighter.config.overrides import apply_override, check_new_keys, parse_overrides
from lighter.config.resolver import Resolver, reference_resolver, run_imports
from lighter.errors import (
    COMMAND_LINE,
    ConfigSyntaxError,
    LighterError,
    Location,
    MissingReferenceError,
    did_you_mean,
)

# The MONAI-compatible facades (items, ReferenceResolver) are imported where used: the fast path
# never needs them.

__all__ = ["ConfigParser"]

_META = "_meta_"
# Enough for the JSON decoder to read 10,000 levels, far past the loader's nesting bound.
_LOADING_RECURSION_LIMIT = 25_000
_MISSING = object()


class ConfigParser:
    """Load, merge, override and resolve a config (MONAI Bundle syntax).

    A drop-in for ``monai.bundle.ConfigParser``: besides the methods below, a top-level id reads
    as an attribute (``parser.trainer`` is ``parser.get_parsed_content("trainer")``) and
    :attr:`ref_resolver` offers MONAI's ``ReferenceResolver`` view.

    Args:
        config: The initial config (copied; the caller's dict is never modified). ``None`` gives
            ``{"_meta_": {}}`` as in MONAI.
        excludes: Module-name fragments (``"monai.apps"``) where a bare MONAI name in ``_target_``
            (``LoadImaged``) is not looked up, as in MONAI.
        globals: Extra names for ``$`` expressions: module-name strings (imported when first
            used) or objects. ``False`` also drops MONAI's defaults (``monai``, ``torch``, ``np``).
        safe: Safe mode (see :mod:`lighter.config.safety`): before anything is resolved, refuse
            the whole config, naming every offending id, if it would run code ``allow`` does not cover.
        allow: Packages whose callables a safe config may name; ``None`` gives
            :data:`~lighter.config.safety.DEFAULT_ALLOW`.
    """

    def __init__(
        self,
        config: Any = None,
        excludes: Sequence[str] | str | None = None,
        globals: Mapping[str, Any] | bool | None = None,  # noqa: A002 - MONAI's name
        *,
        safe: bool = False,
        allow: Iterable[str] | None = None,
    ) -> None:
        self._config: Any = {_META: {}} if config is None else copy_tree(config)
        self._ref_resolver: Any = None
        self._locations: Locations = {}
        self._files: list[Path] = []
        self._names = Names(globals)
        self._unchecked: list[str] = []
        self._excludes: tuple[str, ...] = (excludes,) if isinstance(excludes, str) else tuple(excludes or ())
        self.safe = safe
        self.allow = tuple(allow) if allow is not None else None
        self._reset()

    def _reset(self) -> None:
        self._graph: Graph | None = None
        self._imports: dict[str, Any] | None = None
        self._resolvers: dict[tuple[bool, bool], Resolver] = {}

    # --- reading ------------------------------------------------------------------------------

    @property
    def config(self) -> Any:
        """The raw merged config (read it; change it through ``set``/``update``/overrides)."""
        return self._config

    @config.setter
    def config(self, value: Any) -> None:
        self.set(value)

    meta_key = _META
    suffixes = ("json", "yaml", "yml")

    def __getattr__(self, id: str) -> Any:  # noqa: A002 - MONAI's name
        """``parser.some_id``: the resolved object at top-level id ``some_id`` (MONAI's shortcut)."""
        # Only reached for names that are not attributes; private names (copy, pickle) stay errors.
        if id.startswith("__") or "_config" not in self.__dict__:
            raise AttributeError(id)
        if id not in self:
            raise AttributeError(
                f"'ConfigParser' has no attribute or config id '{id}'"
                + (f" ({hint})" if (hint := did_you_mean(id, _top_level(self._config))) else "")
            )
        return self.get_parsed_content(id)

    @property
    def ref_resolver(self) -> Any:
        """MONAI's ``ReferenceResolver`` view of this parser (``resolved_content``, ``get_item`` …)."""
        if self._ref_resolver is None:
            self._ref_resolver = reference_resolver().of_parser(self)
        return self._ref_resolver

    @property
    def files(self) -> list[Path]:
        """The config files read by :meth:`read_config`, in order."""
        return list(self._files)

    def read_config(self, f: str | Path | Sequence[str | Path] | Mapping) -> None:
        """Read and merge config files (later ones win), replacing this parser's config.

        Args:
            f: A path, comma-separated paths (``"a.yaml,b.yaml"``), a list of paths, or a dict.

        Raises:
            ConfigFileNotFoundError: A file does not exist.
            ConfigSyntaxError: A file does not parse, or its top level is not a mapping.
        """
        content: dict[Any, Any] = {_META: copy_tree(self.get(_META, {}))}
        if isinstance(f, Mapping):
            content.update(copy_tree(dict(f)))
            files: list[Path] = []
            locations: Locations = {}
        else:
            files = _paths(f)
            merged, locations = _load_files(files)
            content.update(merged)
        self._config, self._locations, self._files = content, locations, files
        self._unchecked = []  # new keys of earlier overrides are gone with the config they were in
        self._reset()

    def read_meta(self, f: str | Path | Sequence[str | Path] | Mapping) -> None:
        """Read and merge files (or take a dict) as the ``_meta_`` section, as MONAI does."""
        self.set(self.load_config_files(f), self.meta_key)

    @classmethod
    def load_config_file(cls, filepath: str | Path) -> dict:
        """Read one ``.json``/``.yaml``/``.yml`` file (MONAI's API; ``""`` gives ``{}``).

        Raises:
            ConfigFileNotFoundError: The file does not exist.
            ConfigSyntaxError: It does not parse, or its suffix is not a config suffix (a ``ValueError``).
        """
        if not filepath:
            return {}
        with _deep_files():
            return load_file(filepath)[0]

    @classmethod
    def load_config_files(cls, files: str | Path | Sequence[str | Path] | Mapping) -> dict:
        """Read and merge files as :meth:`read_config` does (``+key``, ``~key``, ``a#b`` keys), returning
        the merged dict; a dict is returned as it is (MONAI's API)."""
        if isinstance(files, Mapping):
            return files  # type: ignore[return-value]
        return _load_files(_paths(files))[0]

    @staticmethod
    def export_config_file(config: Any, filepath: str | Path, fmt: str = "json", **kwargs: Any) -> None:
        """Write ``config`` to ``filepath`` as JSON or YAML, atomically (MONAI's API).

        Args:
            config: Plain data (dicts, lists, strings, numbers).
            filepath: The file to write.
            fmt: ``"json"``, ``"yaml"`` or ``"yml"``.
            **kwargs: Passed to ``json.dump`` or ``yaml.safe_dump``.

        Raises:
            ValueError: An unknown ``fmt``.
        """
        from lighter.atomic import atomic_write

        kind = fmt.lower()
        if kind not in ("json", "yaml", "yml"):
            raise ValueError(f"unknown config format '{fmt}' (json, yaml or yml)")

        def write(handle: IO[Any]) -> None:
            if kind == "json":
                json.dump(config, handle, **kwargs)
            else:
                import yaml

                yaml.safe_dump(config, handle, **kwargs)

        atomic_write(filepath, write)

    def apply_overrides(
        self, items: Iterable[str] | Mapping[str, Any], *, check_targets: bool = True
    ) -> None:
        """Apply command-line overrides (``"--trainer#max_epochs=3"``) or a mapping ``id -> value``.

        Args:
            items: ``--id=VALUE`` strings (``--id VALUE`` as two items too; ``+``/``=``/``~``
                prefixes as in files), or a mapping.
            check_targets: Check a key an override creates against its component's target now.
                That imports the target (Lightning, for ``trainer``); when false, the check waits
                for :meth:`check_overrides`, so that cheaper mistakes are reported first.

        Raises:
            OverrideError: Bad syntax or value, or a new key that is probably a typo.
        """
        for id_, value in parse_overrides(items):
            self._unchecked += apply_override(
                self._config, self._locations, id_, value, check_targets=check_targets
            )
        self._reset()

    def check_overrides(self) -> None:
        """Run the target checks of new keys that ``apply_overrides(check_targets=False)`` put off.

        Raises:
            OverrideError: A new key its component's target does not take.
        """
        unchecked, self._unchecked = self._unchecked, []
        check_new_keys(self._config, unchecked)

    # --- raw access (MONAI semantics) ---------------------------------------------------------

    def _lookup(self, id_: str | int) -> Any:
        node = self._config
        for key in ids.split_id(id_):
            found = container_key(node, key)
            if found is None:
                return _MISSING
            node = node[found]
        return node

    def _missing(self, id_: str) -> MissingReferenceError:
        return MissingReferenceError(
            f"id '{id_}' does not exist", id=id_, suggestion=did_you_mean(id_, all_ids(self._config))
        )

    def __getitem__(self, id_: str | int) -> Any:
        value = self._lookup(id_)
        if value is _MISSING:
            raise self._missing(ids.normalize_id(id_))
        return value

    def __contains__(self, id_: str | int) -> bool:
        return self._lookup(id_) is not _MISSING

    def get(self, id: str = "", default: Any = None) -> Any:  # noqa: A002 - MONAI's signature
        """Return the raw value at ``id``, or ``default`` when there is none."""
        value = self._lookup(id)
        return default if value is _MISSING else value

    def __setitem__(self, id_: str | int, config: Any) -> None:
        id_ = ids.normalize_id(id_)
        if id_ == "":
            self._config, self._locations = copy_tree(config), {}
            self._reset()
            return
        parent_id, _, key = id_.rpartition(ids.SEP)
        parent = self[parent_id]
        found = container_key(parent, key)
        if found is None:
            if not isinstance(parent, dict):
                raise self._missing(id_)
            found = key
        else:
            forget_locations(self._locations, parent[found], id_)
        parent[found] = copy_tree(config)
        self._reset()

    def set(self, config: Any, id: str = "", recursive: bool = True) -> None:  # noqa: A002
        """Set the raw value at ``id``; with ``recursive``, missing parent dicts are created."""
        keys = ids.split_id(id)
        if recursive and keys:
            if self._config is None:
                self._config = {}
            node = self._config
            for key in keys[:-1]:
                if isinstance(node, dict) and container_key(node, key) is None:
                    node[key] = {}
                found = container_key(node, key)
                if found is None:
                    raise self._missing(ids.normalize_id(id))
                node = node[found]
        self[ids.normalize_id(id)] = config

    def update(self, pairs: Mapping[str, Any]) -> None:
        """Set several raw values: ``{"trainer#max_epochs": 3, ...}``."""
        for id_, value in pairs.items():
            self[id_] = value

    def __delitem__(self, id_: str | int) -> None:
        id_ = ids.normalize_id(id_)
        parent_id, _, key = id_.rpartition(ids.SEP)
        parent = self._lookup(parent_id) if id_ else _MISSING
        found = container_key(parent, key) if parent is not _MISSING else None
        if found is None:
            raise self._missing(id_)
        forget_locations(self._locations, parent[found], id_)
        del parent[found]
        self._reset()

    def location(self, id: str) -> Location | None:  # noqa: A002
        """Where the value at ``id`` was written (``file:line:col`` or ``command line``), if known."""
        id_ = ids.normalize_id(id)
        found = self._locations.get(id_)
        if found is None and self._graph is not None:
            found = self._graph.locations.get(id_)
        return found

    def copy(self) -> ConfigParser:
        """An independent parser with the same raw config, locations, files and globals."""
        other = ConfigParser.__new__(ConfigParser)
        other._config = copy_tree(self._config)
        other._locations = dict(self._locations)
        other._files = list(self._files)
        other._names = self._names.copy()
        other._unchecked = list(self._unchecked)
        other._excludes = self._excludes
        other._ref_resolver = None
        other.safe, other.allow = self.safe, self.allow
        other._reset()
        return other

    # --- resolution ---------------------------------------------------------------------------

    def parse(self, reset: bool = True) -> None:
        """Prepare resolution: relative ids, macros and the node table (resolved objects are
        dropped when ``reset``)."""
        if reset or self._graph is None:
            self._reset()
            with _collector_paused():
                graph = build_graph(self._config, self._locations, self._base_dir)
            if self.safe:
                from lighter.config.safety import DEFAULT_ALLOW, check_safe

                check_safe(graph, DEFAULT_ALLOW if self.allow is None else self.allow)
            self._graph = graph

    def resolve_macro_and_relative_ids(self) -> None:
        """Rewrite the raw config with every ``%`` macro expanded and every relative id made
        absolute (MONAI's API); locations follow the values."""
        with _collector_paused():
            graph = build_graph(self._config, self._locations, self._base_dir)
        self._config, self._locations = graph.config, dict(graph.locations)
        self._reset()

    @classmethod
    def split_path_id(cls, src: str) -> tuple[str, str]:
        """Split ``"file.yaml#a#b"`` into ``("file.yaml", "a#b")`` (MONAI's API)."""
        return ids.split_path_id(src)

    @classmethod
    def resolve_relative_ids(cls, id: str, value: str) -> str:  # noqa: A002
        """Make the relative ids (``@#x``, ``%##y``) in ``value``, written at ``id``, absolute (MONAI's API).

        Raises:
            ValueError: A relative id climbs above the root.
        """
        return ids.resolve_relative_ids(value, ids.normalize_id(id))

    def _parsed_graph(self) -> Graph:
        if self._graph is None:
            self.parse(reset=True)
        return self._graph  # type: ignore[return-value]

    def _memo(self, flags: tuple[bool, bool]) -> dict[str, Any]:
        """The objects built so far with ``(instantiate, eval_expr)`` flags (a live table)."""
        return self._resolver(self._parsed_graph(), flags).memo

    def _resolver(self, graph: Graph, flags: tuple[bool, bool]) -> Resolver:
        resolver = self._resolvers.get(flags)
        if resolver is None:
            if self._imports is None:
                self._imports = run_imports(graph, self._names)
            resolver = Resolver(
                graph,
                self._names,
                self._imports,
                instantiate=flags[0],
                eval_expr=flags[1],
                excludes=self._excludes,
            )
            self._resolvers[flags] = resolver
        return resolver

    @property
    def graph(self) -> Graph:
        """The parsed node table (parsed on first use): every id, its kind, where it was written."""
        if self._graph is None:
            self.parse()
        return self._graph

    def get_parsed_content(self, id: str = "", **kwargs: Any) -> Any:  # noqa: A002
        """Return the resolved object at ``id``, building only it and what it depends on.

        Args:
            id: The id (``""``: the whole config).
            **kwargs: As in MONAI: ``lazy`` (default True: reuse objects already built),
                ``instantiate`` and ``eval_expr`` (default True), ``default`` (returned when ``id``
                does not exist; a ``ConfigItem`` default is resolved on its own).

        Raises:
            LighterError: Any problem in the config, with its id and location.
        """
        if self._graph is None or not kwargs.get("lazy", True):
            self.parse(reset=True)
        graph = self._graph
        id_ = ids.normalize_id(id)
        if "default" in kwargs and id_ not in graph.nodes:
            return _resolve_default(kwargs["default"], kwargs)
        flags = (bool(kwargs.get("instantiate", True)), bool(kwargs.get("eval_expr", True)))
        return self._resolver(graph, flags).resolve(id_)

    def find_problems(self, roots: Iterable[str] | None = None) -> list[LighterError]:
        """Every problem resolution would meet that can be seen without building anything.

        Targets are imported to read their signatures; nothing is called (see
        :mod:`lighter.config.static_check`). A problem that stops parsing (a ``%`` macro naming a
        missing id or file) is returned alone.

        Args:
            roots: Check only what resolving these ids reaches (``None``: everything).
        """
        from lighter.config.static_check import find_graph_problems

        try:
            if self._graph is None:
                self.parse(reset=True)
        except LighterError as error:
            return [error]
        return find_graph_problems(self._graph, self._names, roots)

    def _base_dir(self, id_: str) -> Path | None:
        for candidate in ids.ancestors(id_):
            where = self._locations.get(candidate)
            if where is not None and where is not COMMAND_LINE and where.line is not None:
                return Path(where.file).parent
        return None

    def __repr__(self) -> str:
        return f"ConfigParser({self._config!r})"


def _load_files(files: list[Path]) -> tuple[dict[Any, Any], Locations]:
    """Load and merge ``files`` in order; the merged content and where each id was written."""
    merged: dict[Any, Any] = {}
    locations: Locations = {}
    with _collector_paused(), _deep_files():
        for path in files:
            data, file_locations = load_file(path)
            if not isinstance(data, dict):
                raise ConfigSyntaxError(
                    f"the top level of a config must be a mapping, not a {type(data).__name__}",
                    location=Location(str(path), 1, 1),
                )
            merge_into(merged, "", data, "", locations, file_locations)
    if files:
        locations[""] = Location(str(files[0]), 1, 1)
    return merged, locations


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while lighter's own code builds the config's containers.

    Loading and parsing create a container per config value and free none of them, so generation-2
    collections would re-scan them again and again (time growing faster than the config). No user
    code runs inside, so the pause cannot change what user code sees; resolution, which calls
    targets and expressions, never pauses it.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@contextmanager
def _deep_files() -> Iterator[None]:
    """Let the JSON decoder (which recurses in C) go deep enough for the loader to report a file
    nested past its limit with the id where it happens, instead of a bare ``RecursionError``.

    Only file reading runs inside: no user code, so the limit user code sees never changes.
    """
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, _LOADING_RECURSION_LIMIT))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def _resolve_default(default: Any, kwargs: Mapping[str, Any]) -> Any:
    from lighter.config.items import ConfigItem

    if not isinstance(default, ConfigItem):
        return default
    options = {k: v for k, v in kwargs.items() if k in ("instantiate", "eval_expr")}
    # MONAI resolves an item given as the default on its own
    return reference_resolver()([default]).get_resolved_content(default.get_id(), **options)


def _top_level(config: Any) -> list[str]:
    return [str(k) for k in config] if isinstance(config, dict) else []


def _paths(f: str | Path | Sequence[str | Path]) -> list[Path]:
    if isinstance(f, Path):
        return [f]
    if isinstance(f, str):
        if "," in f and not Path(f).is_file():
            return [Path(part.strip()) for part in f.split(",") if part.strip()]
        return [Path(f)]
    return [Path(p) for p in f]
