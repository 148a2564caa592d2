"""Random valid (and deliberately broken) MONAI-Bundle-style configs for differential testing.

The generator is driven by one ``choose(n) -> int in [0, n)`` callable, so the same code serves a
seeded ``random.Random`` and Hypothesis (``data.draw(st.integers(0, n - 1))``, which then shrinks
failing configs). References and macros only point at ids that are complete when they are
written, so valid configs are acyclic, and a macro always copies a subtree written before it
(MONAI expands macros in document order, so a macro of a later macro stays unexpanded there).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Generated", "generate_config"]

Choose = Callable[[int], int]

_KEYS = "abcdefgh"
# No word that YAML 1.1 and 1.2 read differently ("1e3", "yes", "010" …): written to a YAML file,
# MONAI and lighter would then differ on purpose (test_yaml_scalars_are_a_deliberate_difference).
_WORDS = ["x", "lr", "Name", "path_1", "hello world", "ab-cd", "a.b", ""]
_IMPORTS = ["$import math", "$from collections import OrderedDict"]
# _target_ -> kind of the object it builds, for targets whose keyword arguments are free.
_FREE_TARGETS = {"builtins.dict": "dict", "collections.OrderedDict": "dict", "types.SimpleNamespace": "obj"}
_BROKEN = {
    "missing-ref": "@nowhere#x",
    "missing-ref-in-expr": "$@nowhere + 1",
    "relative-out-of-range": "@##a",
    "missing-macro": "%nowhere",
    "failing-expr": "$1 // 0",
    "bad-target": {"_target_": "collections.NoSuchThing"},
    "raising-constructor": {"_target_": "fractions.Fraction", "numerator": 1, "denominator": 0},
}


@dataclass
class Generated:
    """A generated config and what the generator knows about it.

    Attributes:
        config: The raw config (a dict), never mutated by the tests.
        broken: Top-level id of the deliberately broken value, if any.
    """

    config: dict
    broken: str | None = None


@dataclass
class _Done:
    path: tuple[str, ...]
    kind: str


@dataclass
class _State:
    choose: Choose
    imports: bool
    done: list[_Done] = field(default_factory=list)

    def pick(self, options: list) -> Any:
        return options[self.choose(len(options))]

    def coin(self, one_in: int) -> bool:
        return self.choose(one_in) == 0

    def of_kind(self, *kinds: str) -> list[_Done]:
        return [d for d in self.done if d.kind in kinds]


def generate_config(choose: Choose, allow_broken: bool = True) -> Generated:
    """Build a random config; with ``allow_broken``, sometimes one top-level value is broken."""
    state = _State(choose, imports=choose(3) == 0)
    config: dict[str, Any] = {}
    for i in range(1 + choose(5)):
        key = f"k{i}"
        config[key], kind = _value(state, (key,), depth=1)
        state.done.append(_Done((key,), kind))
    if state.imports:
        # MONAI runs every import before resolving anything, wherever it is written.
        items = list(config.items())
        items.insert(choose(len(items) + 1), ("imports", list(_IMPORTS)))
        config = dict(items)
    broken = None
    if allow_broken and choose(6) == 0:
        name = state.pick(sorted(_BROKEN))
        broken = f"broken_{name.replace('-', '_')}"
        config[broken] = _BROKEN[name]
    if allow_broken and choose(10) == 0:
        broken = "cycle_a"
        config["cycle_a"] = {"_target_": "builtins.dict", "x": "@cycle_b"}
        config["cycle_b"] = {"y": "$@cycle_a"}
    return Generated(config, broken)


def _value(state: _State, path: tuple[str, ...], depth: int) -> tuple[Any, str]:
    """Generate the raw value at ``path``; return it and the kind of what it resolves to."""
    makers: list[Callable[[_State, tuple[str, ...], int], tuple[Any, str]]] = [_scalar, _scalar]
    if depth < 4:
        makers += [_list, _dict, _component, _component]
    if state.done:
        makers += [_reference, _reference, _expression, _expression, _macro]
    return state.pick(makers)(state, path, depth)


def _scalar(state: _State, path: tuple[str, ...], depth: int) -> tuple[Any, str]:
    options = [(state.choose(100) - 20, "num"), (state.pick(_WORDS), "str"), (0.5 * state.choose(9), "num")]
    options += [(bool(state.choose(2)), "other"), (None, "other")]
    return state.pick(options)


def _children(state: _State, path: tuple[str, ...], depth: int, keys: list) -> dict:
    items = {}
    for key in keys:
        sub = (*path, str(key))
        items[key], kind = _value(state, sub, depth + 1)
        state.done.append(_Done(sub, kind))
    return items


def _list(state: _State, path: tuple[str, ...], depth: int) -> tuple[Any, str]:
    return list(_children(state, path, depth, list(range(state.choose(4)))).values()), "list"


def _dict(state: _State, path: tuple[str, ...], depth: int) -> tuple[Any, str]:
    keys = sorted({state.pick(list(_KEYS)) for _ in range(1 + state.choose(3))})
    return _children(state, path, depth, keys), "dict"


def _component(state: _State, path: tuple[str, ...], depth: int) -> tuple[Any, str]:
    shape = state.choose(7)
    if shape <= 2:
        target = state.pick(sorted(_FREE_TARGETS))
        keys = sorted({state.pick(list(_KEYS)) for _ in range(state.choose(4))})
        config, kind = {"_target_": target, **_children(state, path, depth, keys)}, _FREE_TARGETS[target]
        factories = state.of_kind("factory")
        if factories and state.coin(3):  # _target_ given as a reference to a callable
            config["_target_"] = _ref_text(state, path + ("_target_",), state.pick(factories).path)
        elif target == "collections.OrderedDict" and state.imports and state.coin(3):
            config["_target_"] = "$OrderedDict"  # ... or as an expression
    elif shape == 3:
        config, kind = {"_target_": "collections.Counter", "a": state.choose(5), "b": state.choose(5)}, "dict"
    elif shape == 4:
        config = {
            "_target_": "fractions.Fraction",
            "numerator": state.choose(9),
            "denominator": 1 + state.choose(4),
        }
        kind = "num"
    elif shape == 5:
        target = state.pick(sorted(_FREE_TARGETS))
        config, kind = {"_target_": target, "_mode_": "callable"}, "factory"
    else:
        config = {"_target_": state.pick(["builtins.sorted", "operator.add"]), "_mode_": "callable"}
        if config["_target_"] == "builtins.sorted" and state.coin(2):
            config["reverse"] = bool(state.choose(2))  # a functools.partial
        kind = "func"
    if state.coin(4):
        config["_desc_"] = "a component"
    if state.coin(4) and state.done:
        config["_requires_"] = _ref_text(state, path + ("_requires_",), state.pick(state.done).path)
    if state.coin(5):
        config["_disabled_"] = state.pick([True, "true", "True", False, "false"])
        if config["_disabled_"] in (True, "true", "True"):
            kind = "none"
    if kind != "none" and state.coin(8):
        config["_mode_"] = config.get("_mode_", "default")
    return config, kind


def _ref_text(state: _State, here: tuple[str, ...], target: tuple[str, ...], sigil: str = "@") -> str:
    """``@target`` written absolutely (``#`` or ``::``) or, where possible, relative to ``here``."""
    relative = [n for n in range(1, len(here) + 1) if here[: len(here) - n] == target[: len(here) - n]]
    relative = [n for n in relative if len(target) > len(here) - n]
    if relative and state.coin(2):
        n = state.pick(relative)
        return sigil + "#" * n + "#".join(target[len(here) - n :])
    return sigil + state.pick(["#", "::"]).join(target)


def _reference(state: _State, path: tuple[str, ...], depth: int) -> tuple[Any, str]:
    target = state.pick(state.done)
    return _ref_text(state, path, target.path), target.kind


def _macro(state: _State, path: tuple[str, ...], depth: int) -> tuple[Any, str]:
    target = state.pick(state.done)
    return _ref_text(state, path, target.path, sigil="%"), target.kind


def _expression(state: _State, path: tuple[str, ...], depth: int) -> tuple[Any, str]:
    def ref(d: _Done) -> str:
        return _ref_text(state, path, d.path)

    options: list[tuple[str, str]] = [("$1 + 2", "num"), ("$list(range(3))", "list")]
    nums, sized = state.of_kind("num"), state.of_kind("list", "dict", "str")
    anything = state.done
    if nums:
        a, b = state.pick(nums), state.pick(nums)
        options += [
            (f"${ref(a)} + 1", "num"),
            (f"$max({ref(a)}, {ref(b)})", "num"),
            (f"$str({ref(a)})", "str"),
        ]
        if state.imports:
            options += [(f"$math.floor({ref(a)})", "num"), (f"$OrderedDict(v={ref(a)})", "dict")]
    if sized:
        s = state.pick(sized)
        options += [(f"$len({ref(s)})", "num")]
    if state.of_kind("dict"):
        options += [(f"$sorted({ref(state.pick(state.of_kind('dict')))})", "list")]
    x, y = state.pick(anything), state.pick(anything)
    options += [
        (f"$[{ref(x)}, {ref(y)}]", "list"),
        (f"${ref(x)}", x.kind),
        (f"$type({ref(x)}).__name__", "str"),
    ]
    return state.pick(options)
