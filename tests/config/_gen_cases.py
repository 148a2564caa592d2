"""Hand-written cases for the differential tests against ``monai.bundle.ConfigParser``.

``VALID`` configs resolve in MONAI (every id is compared), ``FAILING`` ones make MONAI raise for
the given id, and ``FILES`` are small YAML/JSON files read with ``read_config``.
"""

from __future__ import annotations

import pytest

__all__ = ["VALID", "FAILING", "FILES"]

COMP = "collections.OrderedDict"
LINEAR = {"_target_": "torch.nn.Linear", "in_features": 4, "out_features": 2}


VALID = [
    pytest.param(
        {"a": {"b": [1, {"c": 2.5}], "d": "x"}, "e": [[1, 2], [3]], "f": None}, id="nested-literals"
    ),
    pytest.param({"s": "price $5", "t": "a@b.com", "u": "50%", "v": ""}, id="sigils-inside-plain-strings"),
    pytest.param({"a": {"b": 1}, "r": "@a#b", "r2": "@a::b", "whole": "@a"}, id="ref-into-dict"),
    pytest.param(
        {"l": [10, 20, {"x": 3}], "r": "@l#1", "r2": "@l::2::x", "r3": "@l#2#x"}, id="ref-into-list-by-index"
    ),
    pytest.param({"a": 1, "b": "@a", "c": "@b", "d": ["@c", "@b", {"e": "@d#0"}]}, id="ref-chain"),
    pytest.param(
        {"m": {"_target_": COMP, "x": 1}, "r1": "@m", "r2": ["@m", {"k": "@m"}]}, id="ref-shares-one-object"
    ),
    pytest.param(
        {"m": {"_target_": COMP, "x": [1]}, "c1": "%m", "c2": "%m", "r": "@m"}, id="macro-gives-fresh-copies"
    ),
    pytest.param(
        {"a": {"b": [1, 2]}, "c": "%a#b", "d": "%a::b", "e": {"f": "%a"}}, id="macro-of-plain-values"
    ),
    pytest.param({"x": 0, "a": {"x": 1, "y": "@#x", "z": "%#x", "w": "@x"}}, id="relative-sibling"),
    pytest.param(
        {"x": 1, "a": {"x": 2, "b": {"c": 3, "up1": "@##x", "up2": "@###x", "sib": "@#c", "deep": "@##b#c"}}},
        id="relative-parents",
    ),
    pytest.param({"a": [1, "@#0", "$@#0 + 1", {"b": "@##0"}]}, id="relative-in-list"),
    pytest.param(
        {"a": {"x": 2, "y": "$@#x * 10", "m": {"_target_": COMP, "v": "%##x"}}},
        id="relative-in-expr-and-macro",
    ),
    pytest.param(
        {"a": 2, "b": [1, 2, 3], "c": "$@a + len(@b)", "d": "$[i * @a for i in @b]"}, id="expr-with-refs"
    ),
    pytest.param(
        {"a": {"x": 1}, "b": "$@a['x'] + @a::x", "c": "$None", "d": {"e": "$None"}}, id="expr-values"
    ),
    pytest.param({"imp": "$import math", "v": "$math.sqrt(16)", "w": ["$math.floor(2.5)"]}, id="expr-import"),
    pytest.param(
        {"imp": "$from collections import OrderedDict", "v": "$OrderedDict(a=1)"}, id="expr-from-import"
    ),
    pytest.param({"v": "$math.floor(2.5)", "imports": ["$import math"]}, id="import-written-after-use"),
    pytest.param({"imp": "$import collections as co", "v": "$co.Counter('aab')"}, id="import-as"),
    pytest.param({"t": "$torch.zeros(2)", "n": "$np.arange(3)", "m": "$numpy.ones(2)"}, id="default-globals"),
    pytest.param({"o": {"_target_": COMP, "a": 1, "b": [1, {"c": "@o#a"}]}}, id="target-ordereddict"),
    pytest.param({"net": {**LINEAR, "bias": False}}, id="target-torch-linear"),
    pytest.param(
        {
            "l1": LINEAR,
            "mods": {"_target_": "torch.nn.ModuleList", "modules": ["@l1", {"_target_": "torch.nn.ReLU"}]},
        },
        id="target-torch-modulelist",
    ),
    pytest.param(
        {"net": LINEAR, "opt": {"_target_": "torch.optim.SGD", "params": "$@net.parameters()", "lr": 0.1}},
        id="target-optimizer-with-expr",
    ),
    pytest.param(
        {"t": {"_target_": "Compose", "transforms": [{"_target_": "ScaleIntensity", "minv": 0.0}]}},
        id="target-monai-short-name",
    ),
    pytest.param(
        {"f": {"_target_": COMP, "_mode_": "callable"}, "o": {"_target_": "@f", "a": 1}}, id="target-is-ref"
    ),
    pytest.param(
        {"imp": "$import collections", "o": {"_target_": "$collections.Counter", "a": 2}}, id="target-is-expr"
    ),
    pytest.param(
        {"d": {"x": 1, "c": {"_target_": COMP, "_disabled_": True}}, "r": "@d#c", "e": "$@d#c is None"},
        id="disabled-in-dict",
    ),
    pytest.param({"l": [1, {"_target_": COMP, "_disabled_": "true"}, 3], "r": "@l#1"}, id="disabled-in-list"),
    pytest.param(
        {
            "c": {"_target_": COMP, "_disabled_": "false", "a": 1},
            "d": {"_target_": COMP, "_disabled_": False},
        },
        id="disabled-false",
    ),
    pytest.param(
        {"d": {"x": {"_target_": "os.sched_yield"}, "y": 1}, "l": [{"_target_": "os.sched_yield"}]},
        id="component-returning-none",
    ),
    pytest.param(
        {"f": {"_target_": "operator.add", "_mode_": "callable"}, "v": "$@f(1, 2)"},
        id="callable-without-args",
    ),
    pytest.param(
        {"f": {"_target_": "builtins.sorted", "_mode_": "callable", "reverse": True}, "v": "$@f([1, 3, 2])"},
        id="callable-with-args-is-partial",
    ),
    pytest.param(
        {"f": {"_target_": "fractions.Fraction", "_mode_": "callable", "denominator": 3}, "v": "$@f(1)"},
        id="callable-class-partial",
    ),
    pytest.param({"c": {"_target_": COMP, "_mode_": "default", "a": 1}}, id="mode-default"),
    pytest.param(
        {
            "first": {"_target_": "collections.Counter", "a": 1},
            "a": {"_target_": COMP, "_requires_": "@first", "x": 1},
        },
        id="requires-ref",
    ),
    pytest.param(
        {
            "f": {"_target_": "collections.Counter"},
            "a": {"_target_": COMP, "_requires_": ["@f", "$import math"], "x": "$math.pi"},
        },
        id="requires-list",
    ),
    pytest.param({"a": {"_target_": COMP, "_desc_": "some docs", "x": 1}}, id="desc-ignored"),
    pytest.param(
        {
            "c": {
                "_target_": "builtins.dict",
                "inner": {"_target_": "fractions.Fraction", "numerator": 1, "denominator": 3},
                "lst": [{"_target_": "collections.Counter", "a": 2}],
            }
        },
        id="nested-components",
    ),
    pytest.param(
        {"m": {"_target_": COMP}, "same": "$@m", "pair": "$[@m, @m]", "n": {"k": "@m"}},
        id="expr-returns-shared-object",
    ),
    pytest.param(
        {"a": 1, "ab": 2, "v": "$@a + @ab", "w": "$@ab - @a"},
        id="expr-ref-is-prefix-of-another",
    ),
    pytest.param(
        {"a": 2, "v": "$[x + @a for x in range(3)]", "f": "$lambda x: x + @a", "w": "$@f(1)"},
        id="expr-scopes-see-refs",
    ),
    pytest.param({"a": {"x": 1}, "b": "%a", "r": "@b#x", "s": "@b"}, id="ref-into-macro-copy"),
    pytest.param(
        {"a": {"z": 1, "m": {"y": "@##z"}}, "b": {"z": 2, "m": "%a#m"}},
        id="macro-keeps-relative-ids-of-its-source",
    ),
    pytest.param({"a": 1, "b": "%a", "c": "%b"}, id="macro-of-macro"),
    pytest.param({"d": {1: "a", 2: "@d#1"}}, id="int-keys"),
    pytest.param(
        {"v": {"_target_": "collections.OrderedDict.fromkeys", "iterable": ["a", "b"]}},
        id="target-classmethod",
    ),
    pytest.param(
        {"f": {"_target_": "os.path.join", "_mode_": "callable"}, "v": "$@f('a', 'b')"},
        id="target-function-callable",
    ),
    pytest.param({"c": {"_target_": "math.pi"}}, id="target-not-callable"),
    pytest.param(
        {"c": {"_target_": COMP, "_desc_": "hi", "a": 1}, "r": "@c#_desc_", "t": "@c#_target_"},
        id="ref-to-reserved-key",
    ),
    pytest.param(
        {"c": {"_target_": COMP, "_requires_": "$import math", "a": "$math.pi"}}, id="requires-import"
    ),
    pytest.param(
        {"c": {"_target_": COMP, "_disabled_": "$True"}, "d": {"_target_": COMP, "_disabled_": None}},
        id="disabled-odd-values",
    ),
    # Side effects happen in MONAI's order: list items in order, a component's arguments in key order.
    pytest.param(
        {"log": "$[]", "steps": ["$@log.append(1)", "$@log.append(2)"], "after": "$list(@log)"},
        id="order-list-items",
    ),
    pytest.param(
        {"log": "$[]", "c": {"_target_": COMP, "b": "$@log.append('b') or len(@log)", "a": "$len(@log)"}},
        id="order-component-arguments",
    ),
    pytest.param(
        {"log": "$[]", "c": {"_target_": COMP, "_requires_": "$@log.append('req')", "n": "$len(@log)"}},
        id="order-requires-before-arguments",
    ),
    pytest.param(
        {
            "log": "$[]",
            "x": {"p": "$@log.append('p') or list(@log)", "q": "@y"},
            "y": "$@log.append('y') or 0",
        },
        id="order-nested-before-later-ref",
    ),
    pytest.param(
        {"imports": ["$import math", "$import lighter_no_such_package"], "v": "$math.floor(1.5)"},
        id="failed-import-is-a-stand-in",
    ),
]


FAILING = [
    pytest.param({"a": "@b"}, "a", id="missing-ref"),
    pytest.param({"a": {"x": 1}, "b": "@a#y"}, "b", id="missing-nested-ref"),
    pytest.param({"a": "$@nope + 1"}, "a", id="missing-ref-in-expr"),
    pytest.param({"a": 1}, "nope", id="missing-requested-id"),
    pytest.param({"a": "@b", "b": "@a"}, "a", id="cycle-of-two"),
    pytest.param({"a": {"x": "@a"}}, "a", id="cycle-self"),
    pytest.param(
        {"a": "$@b", "b": {"_target_": "builtins.dict", "x": "@a"}},
        "b",
        id="cycle-through-expr-and-component",
    ),
    pytest.param({"a": "@##x"}, "a", id="relative-out-of-range"),
    pytest.param({"a": "%nope"}, "a", id="missing-macro"),
    pytest.param({"a": {"_target_": "collections.NoSuchThing"}}, "a", id="bad-target"),
    pytest.param({"a": "$1 / 0"}, "a", id="failing-expr"),
    pytest.param(
        {"a": {"_target_": "fractions.Fraction", "numerator": 1, "denominator": 0}},
        "a",
        id="raising-constructor",
    ),
    pytest.param(
        {"a": {"_target_": "fractions.Fraction", "numerator": 1, "denom": 2}}, "a", id="unexpected-argument"
    ),
    pytest.param(
        {"i": "$import lighter_no_such_package", "a": "$lighter_no_such_package.x"},
        "a",
        id="failed-import-used",
    ),
    pytest.param({"a": "$'user@host'"}, "a", id="at-sign-inside-expr-is-a-ref"),
    pytest.param({"l": [1], "a": "$len(%l)"}, "a", id="macro-inside-expr"),
    pytest.param({"a": {"_target_": COMP, "_mode_": "bogus"}}, "a", id="unknown-mode"),
    pytest.param({"a": "$"}, "a", id="empty-expr"),
    pytest.param({"a": "@"}, "a", id="ref-to-root"),
]


FILES = {
    "base.yaml": "vars:\n  lr: 0.1\n  sizes: [1, 2]\nnet:\n  _target_: torch.nn.Linear\n  in_features: 4\n"
    "  out_features: '@vars#sizes#1'\nopt:\n  _target_: torch.optim.SGD\n  params: $@net.parameters()\n  lr: '@vars#lr'\n"
    "opts:\n  keep: 1\n  nested: {p: 1}\n",
    "over.yaml": "vars#lr: 0.5\n+vars#sizes: [3]\nextra: '%base.yaml#vars#sizes'\n+opts: {nested: {q: 2}}\n",
    "more.json": '{"tail": {"_target_": "collections.Counter", "a": "@vars#sizes#2"}, "net#in_features": 8}',
}
