"""Every config error kind: its class and the exact first line of its message (file:line @ id)."""

from __future__ import annotations

import textwrap

import pytest

from lighter.config import ConfigParser
from lighter.errors import (
    ArgumentError,
    CircularReferenceError,
    ConfigError,
    ConfigFileNotFoundError,
    ConfigSyntaxError,
    ExpressionError,
    InstantiationError,
    LighterError,
    MissingReferenceError,
    OverrideError,
    RelativeIdError,
    TargetImportError,
)


def first_line(error: BaseException) -> str:
    return str(error).splitlines()[0]


def resolve_file(tmp_path, text: str, id_: str = ""):
    path = tmp_path / "exp.yaml"
    path.write_text(textwrap.dedent(text))
    parser = ConfigParser()
    parser.read_config(str(path))
    return parser.get_parsed_content(id_)


CASES = [
    pytest.param(
        """\
        a: 1
        b: [1, 2
        c: 3
        """,
        ConfigSyntaxError,
        "{f}:3:2: did not find expected ',' or ']' (while parsing a flow sequence)",
        id="yaml-syntax",
    ),
    pytest.param(
        """\
        system:
          model:
            _target_: dict
          optimizer:
            _target_: dict
            params: "@system#modle"
        """,
        MissingReferenceError,
        "{f}:6 @ system#optimizer#params: reference '@system#modle' does not exist (did you mean 'system#model'?)",
        id="missing-reference",
    ),
    pytest.param(
        """\
        vars:
          lr: 0.1
        x: "$@vars#lrr * 2"
        """,
        MissingReferenceError,
        "{f}:3 @ x: reference '@vars#lrr' does not exist (did you mean 'vars#lr'?)",
        id="missing-reference-in-expression",
    ),
    pytest.param(
        """\
        a: "@b"
        b:
          c: "@a"
        """,
        CircularReferenceError,
        "{f}:3 @ b#c: circular reference: a -> b -> b#c -> a",
        id="circular-reference",
    ),
    pytest.param(
        """\
        a:
          b: "@###x"
        """,
        RelativeIdError,
        "{f}:2 @ a#b: relative id in '@###x' goes 3 levels up from 'a#b', above the root of the config",
        id="relative-id-out-of-range",
    ),
    pytest.param(
        """\
        model:
          _target_: torch.nn.Linearr
          in_features: 2
        """,
        TargetImportError,
        "{f}:2 @ model: cannot import 'torch.nn.Linearr': module 'torch.nn' has no attribute 'Linearr' "
        "(did you mean 'torch.nn.Linear'?)",
        id="target-attribute",
    ),
    pytest.param(
        """\
        model:
          _target_: collectionz.OrderedDict
        """,
        TargetImportError,
        "{f}:2 @ model: cannot import 'collectionz.OrderedDict': no module named 'collectionz' "
        "(did you mean 'collections'?)",
        id="target-module",
    ),
    pytest.param(
        """\
        net:
          _target_: torch.nn.Linear
          in_features: 2
          out_features: 2
        opt:
          _target_: torch.optim.Adam
          params: "$@net.parameters()"
          learning_rate: 0.1
        """,
        ArgumentError,
        "{f}:8 @ opt: torch.optim.Adam got an unexpected argument 'learning_rate' (did you mean 'lr'?)",
        id="unexpected-argument",
    ),
    pytest.param(
        """\
        net:
          _target_: torch.nn.Linear
          in_feature: 2
          out_features: 2
        """,
        ArgumentError,
        "{f}:3 @ net: torch.nn.Linear got an unexpected argument 'in_feature' (did you mean 'in_features'?)",
        id="misspelled-argument",
    ),
    pytest.param(
        """\
        net:
          _target_: torch.nn.Linear
          in_features: 2
        """,
        ArgumentError,
        "{f}:1 @ net: torch.nn.Linear is missing required argument 'out_features'",
        id="missing-argument",
    ),
    pytest.param(
        """\
        pair:
          _target_: fractions.Fraction
          _args_: [1, 2, 3, 4]
        """,
        ArgumentError,
        "{f}:3 @ pair: fractions.Fraction takes 2 positional arguments but _args_ gives 4",
        id="too-many-positional",
    ),
    pytest.param(
        """\
        vars:
          n: 0
        x: "$1 / @vars#n"
        """,
        ExpressionError,
        "{f}:3 @ x: expression '$1 / @vars#n' failed: ZeroDivisionError: division by zero",
        id="expression-raises",
    ),
    pytest.param(
        """\
        x: "$1 +"
        """,
        ExpressionError,
        "{f}:1 @ x: expression '$1 +' failed: SyntaxError: invalid syntax (<config expression>, line 1)",
        id="expression-syntax",
    ),
    pytest.param(
        """\
        frac:
          _target_: fractions.Fraction
          numerator: 1
          denominator: 0
        """,
        InstantiationError,
        "{f}:1 @ frac: fractions.Fraction raised ZeroDivisionError: Fraction(1, 0)",
        id="constructor-raises",
    ),
    pytest.param(
        """\
        a: "%nothere.yaml#b"
        """,
        ConfigFileNotFoundError,
        "{f}:1 @ a: macro file not found: 'nothere.yaml'",
        id="macro-file-missing",
    ),
    pytest.param(
        """\
        a:
          b: 1
        c: "%a#bb"
        """,
        MissingReferenceError,
        "{f}:3 @ c: macro '%a#bb' names an id that does not exist (did you mean 'a#b'?)",
        id="macro-id-missing",
    ),
    pytest.param(
        """\
        f:
          _target_: dict
          _mode_: calable
        """,
        ConfigError,
        "{f}:3 @ f: unknown _mode_ 'calable' (one of default, callable, debug) (did you mean 'callable'?)",
        id="unknown-mode",
    ),
    pytest.param(
        """\
        _requires_: "$import not_a_module_xyz"
        x: "$not_a_module_xyz.thing"
        """,
        ExpressionError,
        "{f}:1 @ _requires_: '$import not_a_module_xyz' failed: ModuleNotFoundError: "
        "No module named 'not_a_module_xyz'",
        id="failed-import",
    ),
]


@pytest.mark.parametrize(("text", "kind", "expected"), CASES)
def test_first_line(tmp_path, text, kind, expected):
    with pytest.raises(kind) as caught:
        resolve_file(tmp_path, text)
    assert isinstance(caught.value, LighterError)
    assert first_line(caught.value) == expected.format(f=tmp_path / "exp.yaml")


def test_circular_reference_lists_the_cycle_with_locations(tmp_path):
    with pytest.raises(CircularReferenceError) as caught:
        resolve_file(tmp_path, 'a: "@b"\nb: "@a"\n')
    f = tmp_path / "exp.yaml"
    assert str(caught.value).splitlines() == [
        f"{f}:2 @ b: circular reference: a -> b -> a",
        f"  a  ({f}:1)",
        f"  b  ({f}:2)",
    ]


def test_circular_reference_through_the_root_names_the_root(tmp_path):
    with pytest.raises(CircularReferenceError) as caught:
        resolve_file(tmp_path, 'a: 1\nc: "@"\n')
    f = tmp_path / "exp.yaml"
    assert first_line(caught.value) == f"{f}:2 @ c: circular reference: <root> -> c -> <root>"


def test_constructor_error_is_chained(tmp_path):
    with pytest.raises(InstantiationError) as caught:
        resolve_file(tmp_path, "frac:\n  _target_: fractions.Fraction\n  numerator: 1\n  denominator: 0\n")
    assert isinstance(caught.value.__cause__, ZeroDivisionError)
    assert caught.value.id == "frac"


def test_expression_error_is_chained(tmp_path):
    with pytest.raises(ExpressionError) as caught:
        resolve_file(tmp_path, 'x: "$undefined_name + 1"\n')
    assert isinstance(caught.value.__cause__, NameError)


def test_missing_file(tmp_path):
    (tmp_path / "experiment.yaml").write_text("a: 1\n")
    with pytest.raises(ConfigFileNotFoundError) as caught:
        ConfigParser().read_config(str(tmp_path / "experiments.yaml"))
    assert first_line(caught.value) == (
        f"config file not found: '{tmp_path / 'experiments.yaml'}' (did you mean 'experiment.yaml'?)"
    )


def test_missing_file_among_several(tmp_path):
    (tmp_path / "a.yaml").write_text("a: 1\n")
    with pytest.raises(ConfigFileNotFoundError) as caught:
        ConfigParser().read_config(f"{tmp_path / 'a.yaml'},{tmp_path / 'zzz.yaml'}")
    assert first_line(caught.value) == f"config file not found: '{tmp_path / 'zzz.yaml'}'"


def test_syntax_error_in_second_file_points_there(tmp_path):
    (tmp_path / "a.yaml").write_text("a: 1\n")
    (tmp_path / "b.yaml").write_text("b: 1\nc: : 2\n")
    with pytest.raises(ConfigSyntaxError) as caught:
        ConfigParser().read_config([tmp_path / "a.yaml", tmp_path / "b.yaml"])
    assert first_line(caught.value).startswith(f"{tmp_path / 'b.yaml'}:2:")


def test_json_syntax_error(tmp_path):
    (tmp_path / "a.json").write_text('{"a": 1,\n "b": }\n')
    with pytest.raises(ConfigSyntaxError) as caught:
        ConfigParser().read_config(tmp_path / "a.json")
    assert first_line(caught.value) == f"{tmp_path / 'a.json'}:2:7: Expecting value"


def test_error_in_second_file_points_into_second_file(tmp_path):
    (tmp_path / "a.yaml").write_text("vars:\n  lr: 0.1\nx: 1\n")
    (tmp_path / "b.yaml").write_text("# override\nx: '@vars#lrr'\n")
    parser = ConfigParser()
    parser.read_config(f"{tmp_path / 'a.yaml'},{tmp_path / 'b.yaml'}")
    with pytest.raises(MissingReferenceError) as caught:
        parser.get_parsed_content("x")
    assert first_line(caught.value) == (
        f"{tmp_path / 'b.yaml'}:2 @ x: reference '@vars#lrr' does not exist (did you mean 'vars#lr'?)"
    )


def test_reference_from_command_line_points_there(tmp_path):
    parser = ConfigParser({"vars": {"lr": 0.1}, "x": 1})
    parser.apply_overrides(["--x=@vars#lrr"])
    with pytest.raises(MissingReferenceError) as caught:
        parser.get_parsed_content("x")
    assert first_line(caught.value) == (
        "command line @ x: reference '@vars#lrr' does not exist (did you mean 'vars#lr'?)"
    )


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        pytest.param(
            "trainer#max_epochs",
            "command line: bad override 'trainer#max_epochs': expected --ID=VALUE, "
            "e.g. --trainer#max_epochs=10",
            id="no-equals",
        ),
        pytest.param(
            "--=3",
            "command line: bad override '--=3': expected --ID=VALUE, e.g. --trainer#max_epochs=10",
            id="empty-id",
        ),
        pytest.param(
            "--trainer#max_epochs=[1, 2",
            "command line @ trainer#max_epochs: bad value in override "
            "'--trainer#max_epochs=[1, 2': did not find expected ',' or ']' (while parsing a flow sequence) "
            "(quote it to pass a string, e.g. --id='\"text\"')",
            id="bad-yaml-value",
        ),
        pytest.param(
            "--trainer#max_epoch=3",
            "command line @ trainer#max_epoch: override creates a new key "
            "'max_epoch' next to the existing 'max_epochs' (did you mean 'trainer#max_epochs'?)",
            id="close-to-sibling",
        ),
        pytest.param(
            "--trainr#max_epochs=3",
            "command line @ trainr: override creates a new key 'trainr' next to "
            "the existing 'trainer' (did you mean 'trainer'?)",
            id="close-to-sibling-parent",
        ),
        pytest.param(
            "--trainer#callbacks#5=1",
            "command line @ trainer#callbacks#5: cannot override "
            "'trainer#callbacks#5': 'trainer#callbacks' is a list of 2 items, it has no item 5",
            id="list-index-out-of-range",
        ),
        pytest.param(
            "--trainer#max_epochs#x=1",
            "command line @ trainer#max_epochs#x: cannot override "
            "'trainer#max_epochs#x': 'trainer#max_epochs' holds a int, not a dict or list",
            id="through-a-scalar",
        ),
    ],
)
def test_override_errors(override, expected):
    parser = ConfigParser({"trainer": {"max_epochs": 1, "callbacks": [1, 2]}})
    before = parser.copy().config
    with pytest.raises(OverrideError) as caught:
        parser.apply_overrides([override])
    assert first_line(caught.value) == expected
    assert parser.config == before


def test_get_parsed_content_of_missing_id():
    with pytest.raises(MissingReferenceError) as caught:
        ConfigParser({"model": 1}).get_parsed_content("modle")
    assert first_line(caught.value) == "@ modle: id 'modle' does not exist (did you mean 'model'?)"


def test_delete_missing_id():
    parser = ConfigParser({"system": {"model": 1}})
    with pytest.raises(MissingReferenceError) as caught:
        del parser["system#modle"]
    assert (
        first_line(caught.value)
        == "@ system#modle: id 'system#modle' does not exist (did you mean 'system#model'?)"
    )


def test_merge_conflict_points_at_the_key(tmp_path):
    (tmp_path / "a.yaml").write_text("a: 1\n")
    (tmp_path / "b.yaml").write_text("+a: [2]\n")
    with pytest.raises(ConfigError) as caught:
        ConfigParser().read_config([tmp_path / "a.yaml", tmp_path / "b.yaml"])
    assert first_line(caught.value) == (
        f"{tmp_path / 'b.yaml'}:1:1 @ a: '+a' merges a dict into a dict or a list into a list, not a list into a int"
    )


@pytest.mark.parametrize(
    ("config", "override", "expected"),
    [
        pytest.param(
            {"trainer": {"_target_": "pytorch_lightning.Trainer"}},
            "--trainer#max_epoch=3",
            "command line @ trainer#max_epoch: override creates a new key 'max_epoch', which "
            "pytorch_lightning.Trainer does not take (did you mean 'trainer#max_epochs'?)",
            id="not-a-parameter-no-sibling",
        ),
        pytest.param(
            {"trainer": {"_target_": "pytorch_lightning.Trainer", "max_epochs": 1}},
            "--trainer#max_epoch=3",
            "command line @ trainer#max_epoch: override creates a new key 'max_epoch' next to the "
            "existing 'max_epochs' (did you mean 'trainer#max_epochs'?)",
            id="not-a-parameter-close-to-a-sibling",
        ),
        pytest.param(
            {"trainer": {"_target_": "pytorch_lightning.Trainer"}},
            "--trainer#colour=3",
            "command line @ trainer#colour: override creates a new key 'colour', which "
            "pytorch_lightning.Trainer does not take",
            id="not-a-parameter-nothing-close",
        ),
        pytest.param(
            {"x": {"_target_": "logging.basicConfig", "limit_train_batches": 1}},
            "--x#limit_val_batches=3",
            "command line @ x#limit_val_batches: override creates a new key 'limit_val_batches' next "
            "to the existing 'limit_train_batches' (did you mean 'x#limit_train_batches'?)",
            id="var-keyword-target-falls-back-to-siblings",
        ),
        pytest.param(
            {"x": {"_target_": "no_such_module.Thing", "limit_train_batches": 1}},
            "--x#limit_val_batches=3",
            "command line @ x#limit_val_batches: override creates a new key 'limit_val_batches' next "
            "to the existing 'limit_train_batches' (did you mean 'x#limit_train_batches'?)",
            id="unimportable-target-falls-back-to-siblings",
        ),
    ],
)
def test_override_new_key_checked_against_the_target(config, override, expected):
    parser = ConfigParser(config)
    before = parser.copy().config
    with pytest.raises(OverrideError) as caught:
        parser.apply_overrides([override])
    assert first_line(caught.value) == expected
    assert parser.config == before
