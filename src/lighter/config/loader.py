"""Load YAML/JSON config files, recording where every value was written.

:func:`load_file` returns the file's content and a table ``id -> Location`` covering every value
in it (ids as written in that file, before any merge). YAML is composed into nodes (with PyYAML's
C loader when available) so that each value keeps its line and column; JSON content comes from
the ``json`` module (YAML 1.1 would read ``1e5`` as a string) and its positions from the same
node walk.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import yaml

from lighter.config.ids import join_id
from lighter.errors import ConfigFileNotFoundError, ConfigSyntaxError, Location, did_you_mean

__all__ = ["SUFFIXES", "Locations", "load_file", "load_text"]

SUFFIXES = (".yaml", ".yml", ".json")
Locations = dict[str, Location]

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"


def load_file(path: str | Path) -> tuple[Any, Locations]:
    """Read one config file.

    Args:
        path: A ``.yaml``, ``.yml`` or ``.json`` file.

    Returns:
        The content (an empty file gives ``{}``) and the location of every id in it.

    Raises:
        ConfigFileNotFoundError: The file does not exist (with the closest config file nearby).
        ConfigSyntaxError: The file does not parse, or its suffix is not a config suffix.
    """
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise ConfigSyntaxError(
            f"unsupported config file '{path}' (expected one of {', '.join(SUFFIXES)})", location=str(path)
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as e:
        siblings = []
        if path.parent.is_dir():
            siblings = [p.name for p in path.parent.iterdir() if p.suffix.lower() in SUFFIXES]
        raise ConfigFileNotFoundError(
            f"config file not found: '{path}'", suggestion=did_you_mean(path.name, siblings, cutoff=0.8)
        ) from e
    return load_text(text, str(path), as_json=path.suffix.lower() == ".json")


def load_text(text: str, filename: str, as_json: bool = False) -> tuple[Any, Locations]:
    """Parse config text; ``filename`` labels the locations. See :func:`load_file`."""
    if as_json:
        try:
            data = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as e:
            raise ConfigSyntaxError(e.msg, location=Location(filename, e.lineno, e.colno)) from e
        try:  # positions only: JSON is (nearly always) YAML, so the node walk can find them
            _, locations = _compose(text, filename)
        except ConfigSyntaxError:
            locations = {"": Location(filename, 1, 1)}
        return data, locations
    return _compose(text, filename)


def _compose(text: str, filename: str) -> tuple[Any, Locations]:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return {}, {"": Location(filename, 1, 1)}
        locations: Locations = {}
        data = _Builder(loader, filename, locations).build(node, "", node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = Location(filename, mark.line + 1, mark.column + 1) if mark else Location(filename)
        message = str(e.problem or e.context or "invalid YAML")
        if e.problem and e.context:
            message = f"{e.problem} ({e.context})"
        raise ConfigSyntaxError(message, location=where) from e
    except yaml.YAMLError as e:
        raise ConfigSyntaxError(str(e), location=Location(filename)) from e
    finally:
        loader.dispose()
    return data, locations


class _Builder:
    """Turns composed YAML nodes into Python values and records each value's position."""

    def __init__(self, loader: Any, filename: str, locations: Locations) -> None:
        self.loader = loader
        self.filename = filename
        self.locations = locations

    def _at(self, node: Any) -> Location:
        mark = node.start_mark
        return Location(self.filename, mark.line + 1, mark.column + 1)

    def build(self, node: Any, id_: str, where: Any) -> Any:
        # `where` is the node whose position names this id: the key for a mapping entry whose value
        # spans several lines (errors then point at `optimizer:`), else the value itself.
        self.locations[id_] = self._at(where)
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)  # resolves `<<` merge keys in place
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.loader.construct_object(key_node, deep=True)
                if key in out:
                    warnings.warn(
                        f"{self._at(key_node)}: duplicate key '{key}' (the last one wins)", stacklevel=2
                    )
                scalar = isinstance(value_node, yaml.ScalarNode)
                out[key] = self.build(value_node, join_id(id_, key), value_node if scalar else key_node)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, join_id(id_, i), item) for i, item in enumerate(node.value)]
        return self.loader.construct_object(node, deep=True)
