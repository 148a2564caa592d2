"""``render_config``: YAML that reads back as the config, with where each value came from."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from lighter.config import ConfigParser
from lighter.config.render import render_config, render_scalar
from lighter.errors import COMMAND_LINE, Location

TRICKY = [
    "yes", "no", "on", "off", "y", "n", "true", "False", "null", "~", "", " lead", "trail ", "1e-3", ".5",
    "010", "0x1f", "1_000", ".inf", "-.nan", "a: b", "a #b", "#x", "@a#b", "$torch.ones(2)", "%a#b",
    "[1]", "{a}", "- x", "*alias", "&anchor", "!tag", "'q'", '"dq"', "line\nbreak", "tab\tin", "ünï", "=",
    "<<", "2001-12-14", "12:30", "3:25:45",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.sampled_from(TRICKY),
    st.text(max_size=12),
)
keys = st.one_of(st.sampled_from(TRICKY), st.text(min_size=1, max_size=8), st.integers(0, 5))
configs = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(configs)
def test_rendered_yaml_reads_back_as_the_config(config):
    text = render_config(config, lambda _: Location("exp.yaml", 3))
    assert yaml.safe_load(text) == config


def test_each_value_says_where_it_was_written(tmp_path):
    (tmp_path / "exp.yaml").write_text("trainer:\n  max_epochs: 3\n  callbacks:\n    - {a: 1}\n    - 2\n")
    (tmp_path / "second.yaml").write_text("trainer:\n  precision: bf16-mixed\n")
    parser = ConfigParser()
    parser.read_config([tmp_path / "exp.yaml", tmp_path / "second.yaml"])
    parser.apply_overrides(["--trainer#max_epochs=5"])
    text = render_config(parser.config, parser.location).replace(f"{tmp_path}/", "")
    assert text == (
        "_meta_: {}\n"
        "trainer:  # exp.yaml:1\n"
        "  max_epochs: 5  # command line\n"
        "  callbacks:  # exp.yaml:3\n"
        "    - a: 1  # exp.yaml:4\n"
        "    - 2  # exp.yaml:5\n"
        "  precision: bf16-mixed  # second.yaml:2\n"
    )
    assert yaml.safe_load(text) == parser.config


def test_notes_follow_the_location_on_one_line():
    text = render_config({"a": "@b", "b": 1}, {"a": COMMAND_LINE}.get, {"a": "= 1\n(b)"}.get)
    assert text == "a: '@b'  # command line  = 1 (b)\nb: 1\n"


def test_scalars_are_quoted_only_when_a_yaml_reader_could_misread_them():
    assert [render_scalar(v) for v in ("bf16-mixed", "1e-3", "yes", 1e-3, 7, None)] == [
        "bf16-mixed",
        '"1e-3"',
        "'yes'",
        "0.001",
        "7",
        "null",
    ]
