"""`_target_` components: `_args_`, `_mode_`, `_requires_`, `_disabled_`, `_desc_`, argument checks."""

from __future__ import annotations

import collections
import fractions
import functools

import pytest

from lighter.config import ConfigParser
from lighter.errors import ArgumentError, InstantiationError


class Recorder:
    """A target that records what it was called with."""

    calls: list = []

    def __init__(self, a, b=2, *, c=3):
        self.args = (a, b, c)
        Recorder.calls.append(self.args)


class Flexible:
    def __init__(self, **kwargs):
        self.kwargs = kwargs


class Broken:
    def __init__(self, x):
        raise RuntimeError(f"cannot build with {x}")


GLOBALS = {"Recorder": Recorder, "Flexible": Flexible, "Broken": Broken}


def resolve(config, id_=""):
    return ConfigParser(config, globals=GLOBALS).get_parsed_content(id_)


@pytest.mark.parametrize(
    ("config", "check"),
    [
        pytest.param(
            {"_target_": "collections.OrderedDict", "a": 1},
            lambda v: v == collections.OrderedDict(a=1),
            id="dotted-path",
        ),
        pytest.param({"_target_": "dict", "a": 1}, lambda v: v == {"a": 1}, id="builtin-name"),
        pytest.param(
            {"_target_": "$Recorder", "a": 1}, lambda v: v.args == (1, 2, 3), id="expression-target"
        ),
        pytest.param(
            {"_target_": "fractions.Fraction", "_args_": [3, 6]},
            lambda v: v == fractions.Fraction(1, 2),
            id="positional-args",
        ),
        pytest.param(
            {"_target_": "$Recorder", "_args_": [1, 5], "c": 7},
            lambda v: v.args == (1, 5, 7),
            id="args-and-kwargs",
        ),
        pytest.param(
            {"_target_": "$Recorder", "_mode_": "callable"}, lambda v: v is Recorder, id="callable-bare"
        ),
        pytest.param(
            {"_target_": "$Recorder", "_mode_": "callable", "b": 9},
            lambda v: isinstance(v, functools.partial) and v(1).args == (1, 9, 3),
            id="callable-partial",
        ),
        pytest.param(
            {"_target_": "$Recorder", "_desc_": "ignored", "a": 1},
            lambda v: v.args == (1, 2, 3),
            id="desc-ignored",
        ),
        pytest.param(
            {"_target_": "$Recorder", "_disabled_": True, "a": 1}, lambda v: v is None, id="disabled"
        ),
        pytest.param(
            {"_target_": "$Recorder", "_disabled_": "$1 > 2", "a": 1},
            lambda v: v.args == (1, 2, 3),
            id="disabled-by-expression",
        ),
        pytest.param(
            {"_target_": "$Flexible", "anything": 1},
            lambda v: v.kwargs == {"anything": 1},
            id="kwargs-signature-not-checked",
        ),
        pytest.param({"_target_": "math.pi"}, lambda v: v == 3.141592653589793, id="non-callable-returned"),
        pytest.param(
            {"_target_": "$Recorder", "a": {"_target_": "dict", "_disabled_": True}, "_args_": [0]},
            lambda v: v.args == (0, 2, 3),
            id="disabled-argument-dropped",
        ),
    ],
)
def test_component(config, check):
    assert check(resolve({"c": config}, "c"))


def test_requires_runs_first():
    log = []
    config = {
        "c": {
            "_target_": "$lambda n: (log.append('built'), n)[1]",
            "_requires_": ["$log.append('req')"],
            "n": "$len(log)",
        }
    }
    result = ConfigParser(config, globals={"log": log}).get_parsed_content("c")
    assert log == ["req", "built"]
    assert result == 1


def test_disabled_component_builds_nothing_inside():
    config = {"c": {"_target_": "$Recorder", "_disabled_": True, "a": {"_target_": "$Broken", "x": 1}}}
    assert resolve(config, "c") is None


def test_monai_bare_name():
    pytest.importorskip("monai")
    transform = resolve({"t": {"_target_": "Compose", "transforms": []}}, "t")
    assert type(transform).__name__ == "Compose"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        pytest.param(
            {"_target_": "$Recorder", "a": 1, "d": 4},
            "Recorder got an unexpected argument 'd'",
            id="unexpected",
        ),
        pytest.param(
            {"_target_": "$Recorder", "b": 1}, "Recorder is missing required argument 'a'", id="missing"
        ),
        pytest.param(
            {"_target_": "$Recorder", "_args_": [1], "a": 2},
            "Recorder got argument 'a' both from _args_ and by name",
            id="twice",
        ),
        pytest.param(
            {"_target_": "$Recorder", "_mode_": "callable", "z": 1},
            "Recorder got an unexpected argument 'z'",
            id="callable-checks-names",
        ),
        pytest.param(
            {"_target_": "$Recorder", "_args_": 1},
            "_args_ must be a list of positional arguments, not int",
            id="args-not-a-list",
        ),
    ],
)
def test_argument_errors_are_raised_before_calling(config, message):
    Recorder.calls.clear()
    with pytest.raises(ArgumentError) as caught:
        resolve({"c": config}, "c")
    assert str(caught.value).splitlines()[0] == f"@ c: {message}"
    assert Recorder.calls == []


def test_callable_mode_allows_missing_arguments():
    assert resolve({"c": {"_target_": "$Recorder", "_mode_": "callable", "c": 1}}, "c")(0).args == (0, 2, 1)


def test_constructor_error_names_the_component():
    with pytest.raises(InstantiationError) as caught:
        resolve({"system": {"model": {"_target_": "$Broken", "x": 5}}}, "system")
    assert str(caught.value) == "@ system#model: Broken raised RuntimeError: cannot build with 5"
    assert isinstance(caught.value.__cause__, RuntimeError)
