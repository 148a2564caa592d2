"""Differential tests: lighter's ConfigParser resolves configs exactly like ``monai.bundle.ConfigParser``.

Every case is run through both parsers; for every id (nested ones too, with ``#`` and ``::``) and
for the root, ours must build an equivalent object where MONAI succeeds and raise a
``LighterError`` where MONAI raises. Shared objects (``@``) and fresh copies (``%``) must match too.
"""

from __future__ import annotations

import json

import pytest
import yaml
from _gen_cases import FAILING, FILES, VALID
from _gen_compare import all_ids, difference, shared_groups
from _gen_configs import generate_config
from _gen_harness import check_like_monai, monai_parser, our_parser, resolve_each
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

pytest.importorskip("monai.bundle")


def every_id(config: dict) -> list[str]:
    """All ids of ``config``, nested ones also spelled with ``::``, then the root."""
    ids = all_ids(config)
    return ids + [i.replace("#", "::") for i in ids if "#" in i] + [""]


@pytest.mark.parametrize("config", VALID)
def test_resolves_like_monai(config: dict) -> None:
    expected = check_like_monai(config, every_id(config))
    assert all(outcome.ok for outcome in expected.values()), "a valid case must resolve in MONAI"


@pytest.mark.parametrize(
    ("config", "globals_"),
    [
        pytest.param({"v": "$myconst * 2", "w": "@v"}, {"myconst": 21}, id="value"),
        pytest.param({"v": "$m.floor(2.5)"}, {"m": "math"}, id="string-is-a-module-name"),
        pytest.param({"v": "$fn(3)"}, {"fn": abs}, id="callable"),
    ],
)
def test_globals_argument_like_monai(config: dict, globals_: dict) -> None:
    expected = check_like_monai(config, every_id(config), globals=globals_)
    assert all(outcome.ok for outcome in expected.values()), "a valid case must resolve in MONAI"


@pytest.mark.parametrize(("config", "bad_id"), FAILING)
def test_raises_where_monai_raises(config: dict, bad_id: str) -> None:
    monai_outcome = resolve_each(lambda: monai_parser(config), [bad_id])[bad_id]
    assert not monai_outcome.ok, "the case must make MONAI raise"
    check_like_monai(config, [bad_id, ""] if bad_id in config else [bad_id])


def _api_calls(parser) -> list:
    """The same sequence of API calls on either parser; returns what each call gave."""
    out = [parser.get("a#b"), parser.get("a::l#1"), parser.get("nope", "dflt"), parser.get("a#l#9", "dflt")]
    out += [
        parser["a#l"],
        "a#b" in parser,
        "a#x" in parser,
        "a#l#5" in parser,
        parser.get_parsed_content("c"),
    ]
    parser["a#b"] = 5
    out.append(parser.get_parsed_content("c"))
    parser.set({"y": 1}, "new#deep")
    out += [parser.get("new"), parser.get_parsed_content("new#deep#y")]
    parser.update({"a#l#0": 7, "k": "@a#l"})
    out += [parser.get_parsed_content("k"), parser.get_parsed_content("c", lazy=False)]
    parser.parse()
    out.append(parser.get_parsed_content(""))
    return out


def test_api_calls_like_monai() -> None:
    config = {"a": {"b": 1, "l": [1, 2]}, "c": "@a#b"}
    expected, actual = _api_calls(monai_parser(config)), _api_calls(our_parser(config))
    assert difference(expected, actual) is None, difference(expected, actual)
    assert config == {"a": {"b": 1, "l": [1, 2]}, "c": "@a#b"}


@pytest.mark.parametrize(
    "files",
    [
        pytest.param("base.yaml", id="one-file"),
        pytest.param("base.yaml,over.yaml", id="comma-separated"),
        pytest.param(["base.yaml", "over.yaml", "more.json"], id="list-with-json"),
    ],
)
def test_read_config_like_monai(files, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # MONAI finds %file.yaml macros relative to the working directory
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    ids = [k for k in monai_parser(files=files).get() if k != "_meta_"]
    expected = resolve_each(lambda: monai_parser(files=files), ids)
    actual = resolve_each(lambda: our_parser(files=files), ids)
    for id_ in ids:
        assert expected[id_].ok, expected[id_].error
        assert actual[id_].ok, actual[id_].error
        assert difference(expected[id_].value, actual[id_].value, id_) is None, difference(
            expected[id_].value, actual[id_].value, id_
        )


def _comparator_pairs() -> list:
    import functools
    from collections import OrderedDict
    from fractions import Fraction
    from types import SimpleNamespace

    import torch

    same = [
        pytest.param(torch.nn.Linear(4, 2), torch.nn.Linear(4, 2), None, id="same-network-other-weights"),
        pytest.param(Fraction(1, 3), Fraction(1, 3), None, id="same-fraction"),
        pytest.param(SimpleNamespace(a=[1]), SimpleNamespace(a=[1]), None, id="same-object-state"),
        pytest.param(
            functools.partial(sorted, reverse=True),
            functools.partial(sorted, reverse=True),
            None,
            id="same-partial",
        ),
    ]
    different = [
        pytest.param(OrderedDict(a=1), {"a": 1}, "<root>: type OrderedDict != dict", id="container-type"),
        pytest.param([1, 2], [1, 2, 3], "<root>: length 2 != 3", id="list-length"),
        pytest.param(
            {"a": 1, "b": 2}, {"b": 2, "a": 1}, "<root>: keys ['a', 'b'] != ['b', 'a']", id="key-order"
        ),
        pytest.param({"a": [1, {"b": 2}]}, {"a": [1, {"b": 3}]}, "#a#1#b: 2 != 3", id="nested-value"),
        pytest.param(
            functools.partial(sorted, reverse=True),
            functools.partial(sorted),
            "<root>.keywords: keys ['reverse'] != []",
            id="partial-keywords",
        ),
        pytest.param(
            torch.nn.Linear(4, 2),
            torch.nn.Linear(4, 3),
            "<root>: Linear parameters differ",
            id="network-shape",
        ),
        pytest.param(
            torch.zeros(2),
            torch.ones(2),
            "<root>: tensor (2,) torch.float32 != (2,) torch.float32",
            id="tensor-values",
        ),
        pytest.param(
            SimpleNamespace(a=1), SimpleNamespace(a=2), "<root>.__dict__#a: 1 != 2", id="object-state"
        ),
    ]
    return same + different


@pytest.mark.parametrize(("a", "b", "expected"), _comparator_pairs())
def test_comparator_tells_results_apart(a, b, expected) -> None:
    assert difference(a, b) == expected


def test_shared_groups_tell_references_from_copies() -> None:
    from collections import OrderedDict

    one, other = OrderedDict(x=1), OrderedDict(x=1)
    assert shared_groups({"a": one, "b": [one]}) == {frozenset({"#a", "#b#0"})}
    assert shared_groups({"a": one, "b": [other]}) == set()


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.data())
def test_generated_configs_resolve_like_monai(data: st.DataObject) -> None:
    generated = generate_config(lambda n: data.draw(st.integers(0, n - 1)) if n > 1 else 0)
    note(json.dumps(generated.config, indent=1))
    ids = ["", generated.broken] if generated.broken else every_id(generated.config)
    check_like_monai(generated.config, ids)


# Deliberate difference (docs/configuration.md, "Deliberate differences from MONAI"): lighter reads
# scalars with the YAML 1.2 core schema, MONAI with PyYAML's YAML 1.1. Written plain in a file:
# text -> (what MONAI reads, what lighter reads).
YAML_1_1_VS_1_2 = {
    "1e-3": ("1e-3", 0.001),
    "1E5": ("1E5", 100000.0),
    "yes": (True, "yes"),
    "off": (False, "off"),
    "010": (8, 10),
    "0o10": ("0o10", 8),
    "1_000": (1000, "1_000"),
    "1:30": (90, "1:30"),
}


def test_yaml_scalars_are_a_deliberate_difference(tmp_path) -> None:
    path = tmp_path / "scalars.yaml"
    keys = {f"v{i}": text for i, text in enumerate(YAML_1_1_VS_1_2)}
    path.write_text("".join(f"{key}: {text}\n" for key, text in keys.items()))
    monai = monai_parser(files=str(path))
    ours = our_parser(files=str(path))
    for key, text in keys.items():
        theirs, expected = YAML_1_1_VS_1_2[text]
        assert monai.get_parsed_content(key) == theirs, text
        assert ours.get_parsed_content(key) == expected, text
    # Where 1.1 and 1.2 agree, so do the parsers (the generated configs below stay in this range).
    path.write_text("a: 0.5\nb: true\nc: 12\nd: null\ne: hello\nf: .inf\n")
    assert monai_parser(files=str(path)).get_parsed_content("") == our_parser(
        files=str(path)
    ).get_parsed_content("")


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(data=st.data())
def test_generated_configs_from_yaml_files_resolve_like_monai(tmp_path, data: st.DataObject) -> None:
    generated = generate_config(lambda n: data.draw(st.integers(0, n - 1)) if n > 1 else 0)
    path = tmp_path / "generated.yaml"
    # safe_dump writes a string plain when YAML 1.1 reads it back as a string; the generator's
    # words are ones YAML 1.2 reads the same way (see test_yaml_scalars_are_a_deliberate_difference).
    path.write_text(yaml.safe_dump(generated.config, sort_keys=False))
    note(path.read_text())
    ids = ["", generated.broken] if generated.broken else every_id(generated.config)
    check_like_monai(None, ids, files=str(path))


# A later file swapping components' classes through `a#b:` keys: MONAI replaces the value at that
# id, and so do we when the `_target_` differs (with the same one, ours merges: a deliberate rule).
_SWAP_FILES = {
    "base.yaml": """\
model:
  span: {_target_: datetime.timedelta, days: 1, hours: 2}
  ratio: {_target_: fractions.Fraction, numerator: 1, denominator: 3}
  keep: {_target_: datetime.timedelta, minutes: 5}
""",
    "swap.yaml": """\
model#span: {_target_: datetime.date, year: 2020, month: 1, day: 2}
model#ratio: {_target_: decimal.Decimal, value: "1.5"}
""",
}


def test_swapped_targets_through_hash_keys_like_monai(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name, text in _SWAP_FILES.items():
        (tmp_path / name).write_text(text)
    files = "base.yaml,swap.yaml"
    ids = ["model#span", "model#ratio", "model#keep", "model"]
    expected = resolve_each(lambda: monai_parser(files=files), ids)
    actual = resolve_each(lambda: our_parser(files=files), ids)
    for id_ in ids:
        assert expected[id_].ok, expected[id_].error
        assert actual[id_].ok, actual[id_].error
        assert difference(expected[id_].value, actual[id_].value, id_) is None
    assert our_parser(files=files).get("model#span") == {
        "_target_": "datetime.date",
        "year": 2020,
        "month": 1,
        "day": 2,
    }
