import pickle

import pytest

from lighter.errors import (
    COMMAND_LINE,
    ConfigFileNotFoundError,
    LighterError,
    Location,
    MissingReferenceError,
    ValidationError,
    did_you_mean,
)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param({}, "boom", id="bare"),
        pytest.param({"id": "a#b"}, "@ a#b: boom", id="id-only"),
        pytest.param({"location": Location("x.yaml", 3)}, "x.yaml:3: boom", id="location-only"),
        pytest.param(
            {"id": "a", "location": Location("x.yaml", 3, 7), "suggestion": "did you mean 'b'?"},
            "x.yaml:3:7 @ a: boom (did you mean 'b'?)",
            id="full",
        ),
        pytest.param({"id": "a", "location": COMMAND_LINE}, "command line @ a: boom", id="command-line"),
    ],
)
def test_first_line(kwargs, expected):
    assert str(LighterError("boom", **kwargs)).splitlines()[0] == expected


def test_builtin_bases_and_pickling():
    err = MissingReferenceError("missing", id="x", location=Location("f.yaml", 1))
    assert isinstance(err, KeyError) and isinstance(err, LighterError)
    assert str(err) == "f.yaml:1 @ x: missing"
    assert isinstance(ConfigFileNotFoundError("nope"), FileNotFoundError)
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is MissingReferenceError and str(again) == str(err)


def test_validation_error_lists_every_problem():
    err = ValidationError([LighterError("a", id="x"), LighterError("b", id="y")])
    assert str(err).splitlines() == ["@ x: a", "@ y: b", "(2 problems in the config)"]


def test_did_you_mean():
    assert did_you_mean("max_epoch", ["max_epochs", "devices"]) == "did you mean 'max_epochs'?"
    assert did_you_mean("zzz", ["max_epochs"]) is None
