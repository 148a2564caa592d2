"""`$` expressions: references inside, `$import`, globals, lazily imported default names."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lighter.config import ConfigParser


@pytest.mark.parametrize(
    ("config", "id_", "expected"),
    [
        pytest.param({"a": 2, "b": "$@a ** 3"}, "b", 8, id="reference"),
        pytest.param({"a": [1, 2], "b": "$sum(@a) + len(@a)"}, "b", 5, id="builtins"),
        pytest.param({"i": "$import math", "b": "$math.floor(2.5)"}, "b", 2, id="import"),
        pytest.param({"b": "$m.floor(2.5)", "i": "$import math as m"}, "b", 2, id="import-later-in-file"),
        pytest.param({"i": "$from math import floor", "b": "$floor(2.5)"}, "b", 2, id="from-import"),
        pytest.param(
            {"i": "$from os import path as p", "b": "$p.join('a', 'b')"}, "b", "a/b", id="from-import-as"
        ),
        pytest.param(
            {"i": "$import os.path", "b": "$os.path.basename('/x/y')"}, "b", "y", id="import-dotted"
        ),
        pytest.param({"i": "$import math", "b": "@i"}, "b", __import__("math"), id="import-value-is-module"),
        pytest.param({"n": 3, "f": "$lambda x: x * @n", "g": "$@f(2)"}, "g", 6, id="lambda-reads-reference"),
        pytest.param({"a": {"b": 1}, "c": "$[v for v in [@a#b, @a::b]]"}, "c", [1, 1], id="comprehension"),
        pytest.param({"x": "$np.arange(3).tolist()"}, "x", [0, 1, 2], id="default-global-numpy"),
        pytest.param({"x": "$'#' + 'a'"}, "x", "#a", id="hash-in-string-literal"),
    ],
)
def test_expression(config, id_, expected):
    assert ConfigParser(config).get_parsed_content(id_) == expected


def test_globals_objects_and_module_names():
    parser = ConfigParser(
        {"a": "$double(2)", "b": "$jsonmod.dumps([1])"},
        globals={"double": lambda x: 2 * x, "jsonmod": "json"},
    )
    assert parser.get_parsed_content("a") == 4
    assert parser.get_parsed_content("b") == "[1]"


def test_globals_false_drops_default_names():
    parser = ConfigParser({"a": "$np"}, globals=False)
    with pytest.raises(Exception, match="name 'np' is not defined"):
        parser.get_parsed_content("a")


def test_config_engine_does_not_import_torch_unless_asked():
    code = (
        "import sys\n"
        "from lighter.config import ConfigParser\n"
        "p = ConfigParser({'a': '$1 + 1', 'b': {'_target_': 'collections.OrderedDict'}})\n"
        "p.get_parsed_content()\n"
        "assert 'torch' not in sys.modules and 'monai' not in sys.modules, 'heavy import'\n"
        "ConfigParser({'t': '$torch.ones(1)'}).get_parsed_content('t')\n"
        "assert 'torch' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
