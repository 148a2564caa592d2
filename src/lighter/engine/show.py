"""``lighter show``: the config a run would use, as YAML, with where each value came from.

The merged config (after overrides, and after pruning when a stage is given) is rendered by
:func:`lighter.config.render.render_config`. With ``resolved``, ``%`` macros appear expanded and
each ``@`` reference (also inside a ``$`` expression) is followed by what it stands for; nothing
is instantiated and no expression is evaluated, so torch and Lightning are not imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lighter.config import ConfigParser
from lighter.config.graph import COMPONENT, DICT, EXPRESSION, IMPORT, LIST, LITERAL, REFERENCE, Graph
from lighter.config.ids import is_macro
from lighter.config.render import location_text, render_config, render_scalar
from lighter.engine.stages import Stage
from lighter.errors import LighterError, Location

__all__ = ["show_config"]

_CHAIN_LIMIT = 50  # references to references: follow this many before giving up


def show_config(
    config: str | Path | Sequence[str | Path],
    overrides: Sequence[str] = (),
    stage: Stage | str | None = None,
    resolved: bool = False,
) -> str:
    """Return the config a run of ``stage`` would use, as YAML with provenance comments.

    Args:
        config: A config path, comma-separated paths, or a list of paths.
        overrides: ``["--trainer#max_epochs=3", ...]``.
        stage: Prune for this stage, as a run does (``None``: the whole config).
        resolved: Expand ``%`` macros and say what each ``@`` reference stands for.

    Raises:
        LighterError: A file that cannot be read or parsed, a malformed override, or (with
            ``resolved``) a macro that cannot be expanded.
    """
    from lighter.config.preflight import check_references
    from lighter.engine.prune import prune
    from lighter.engine.runner import load
    from lighter.engine.schema import validate_structure

    # The steps every stage runs before its first import, so show reports the same mistakes in the
    # same words; a new key's check against its target's signature needs the target: left to check.
    full = load(config, overrides, check_targets=False)
    validate_structure(full.config, full.location, sweep=True)
    parser = prune(full, stage) if stage is not None else full
    check_references(parser.graph, [key for key in parser.config if key not in ("vars", "_meta_")])
    header = _header(parser, overrides, stage)
    try:  # the whole config's node table knows where copies made by `%` macros came from
        full.parse(reset=True)
    except LighterError:
        if resolved:
            raise

    def locate(id_: str) -> Location | None:
        return parser.location(id_) or full.location(id_)

    if not resolved:
        return header + render_config(parser.config, locate)
    parser.parse(reset=True)
    graph = parser.graph
    expanded = graph.nodes[""][1] if "" in graph.nodes else parser.config
    return header + render_config(expanded, locate, lambda id_: _note(full, graph, id_))


def _header(parser: ConfigParser, overrides: Sequence[str], stage: Stage | str | None) -> str:
    files = ", ".join(str(path) for path in parser.files) or "a mapping"
    parts = [f"# lighter show: {files}"]  # a comment: the output stays the config
    if overrides:
        parts.append(f", with {len(overrides)} command-line override{'s' if len(overrides) > 1 else ''}")
    if stage is not None:
        parts.append(f", pruned for {Stage(stage).value}")
    return "".join(parts) + "\n"


def _note(parser: ConfigParser, graph: Graph, id_: str) -> str | None:
    raw = parser.get(id_) if id_ in parser else None
    if is_macro(raw):
        return f"copy of {raw}"
    node = graph.nodes.get(id_)
    if node is None:
        return None
    if node[0] == REFERENCE:
        return f"= {_stands_for(graph, node[2])}"
    if node[0] == EXPRESSION and node[2][1]:
        return "; ".join(f"@{ref} = {_stands_for(graph, ref)}" for ref in node[2][1])
    return None


def _stands_for(graph: Graph, id_: str) -> str:
    """A one-line account of what the id refers to, without building it."""
    for _ in range(_CHAIN_LIMIT):
        node = graph.nodes.get(id_)
        if node is None:
            return "nothing: that id does not exist"
        if node[0] != REFERENCE:
            break
        id_ = node[2]
    else:
        return f"@{id_} (a long chain of references)"
    kind, raw, extra = node
    where = location_text(graph.where(id_))
    at = f" ({where})" if where else ""
    if kind == LITERAL:
        return f"{render_scalar(raw)}{at}"
    if kind == COMPONENT:
        target = graph.nodes[dict(extra)["_target_"]][1]
        return f"{target}(...) built at {id_}{at}"
    if kind in (EXPRESSION, IMPORT):
        return f"{raw}{at}"
    if kind == LIST:
        return f"the list at {id_}{at}"
    if kind == DICT:
        return f"the mapping at {id_}{at}"
    return f"{id_}{at}"
