"""Pure id functions: splitting, joining, relative ids, reference scanning."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lighter.config import ids


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        pytest.param("", [], id="root"),
        pytest.param("a", ["a"], id="one"),
        pytest.param("a#b#0#c", ["a", "b", "0", "c"], id="nested"),
        pytest.param("a::b::0", ["a", "b", "0"], id="double-colon"),
        pytest.param("a::b#c", ["a", "b", "c"], id="mixed"),
    ],
)
def test_split_id(text, keys):
    assert ids.split_id(text) == keys


@given(st.lists(st.text(alphabet="abcxyz_019", min_size=1, max_size=5), max_size=6))
def test_join_then_split_round_trips(keys):
    joined = ""
    for key in keys:
        joined = ids.join_id(joined, key)
    assert ids.split_id(joined) == keys


@pytest.mark.parametrize(
    ("id_", "expected"),
    [
        pytest.param("a#b#c", ["a#b#c", "a#b", "a", ""], id="nested"),
        pytest.param("", [""], id="root"),
    ],
)
def test_ancestors(id_, expected):
    assert ids.ancestors(id_) == expected


@pytest.mark.parametrize(
    ("value", "current", "expected"),
    [
        pytest.param("@#x", "a#b", "@a#x", id="sibling"),
        pytest.param("@##x", "a#b#c", "@a#x", id="one-up"),
        pytest.param("@##x", "a#b", "@x", id="to-root"),
        pytest.param("@#x", "a", "@x", id="top-level-sibling"),
        pytest.param("%#x#y", "a#b", "%a#x#y", id="macro"),
        pytest.param("$@#x + @##y", "a#b#c", "$@a#b#x + @a#y", id="expression"),
        pytest.param("@::x", "a#b", "@a#x", id="double-colon"),
        pytest.param("@a#b", "q#r", "@a#b", id="absolute-unchanged"),
        pytest.param("plain #text", "q", "plain #text", id="no-reference"),
    ],
)
def test_resolve_relative_ids(value, current, expected):
    assert ids.resolve_relative_ids(value, current) == expected


def test_relative_id_above_root():
    with pytest.raises(ValueError, match="above the root"):
        ids.resolve_relative_ids("@###x", "a#b")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("@a#b", "a#b", id="nested"),
        pytest.param("@a::0", "a#0", id="double-colon"),
        pytest.param("@a", "a", id="simple"),
        pytest.param("@a b", None, id="not-whole"),
        pytest.param("user@example.com", None, id="email"),
        pytest.param("@a-b", None, id="non-word-character"),
    ],
)
def test_whole_reference(value, expected):
    assert ids.whole_reference(value) == expected


@pytest.mark.parametrize(
    ("expr", "refs", "code"),
    [
        pytest.param("$@a + @b#c", ["a", "b#c"], "__local_refs['a'] + __local_refs['b#c']", id="two"),
        pytest.param("$@a * @a", ["a"], "__local_refs['a'] * __local_refs['a']", id="repeat"),
        pytest.param(
            "$@ab + @a", ["ab", "a"], "__local_refs['ab'] + __local_refs['a']", id="prefix-of-another"
        ),
        pytest.param("$@x::0[::2]", ["x#0"], "__local_refs['x#0'][::2]", id="slice-after-reference"),
        pytest.param("$len([1])", [], "len([1])", id="none"),
    ],
)
def test_expression_references(expr, refs, code):
    assert ids.expression_references(expr) == refs
    assert ids.substitute_references(expr) == code


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param("a#b", ("", "a#b"), id="id-only"),
        pytest.param("file.yaml#a#b", ("file.yaml", "a#b"), id="file-and-id"),
        pytest.param("dir/file.json::a", ("dir/file.json", "a"), id="json-double-colon"),
        pytest.param("file.yml", ("file.yml", ""), id="whole-file"),
    ],
)
def test_split_path_id(body, expected):
    assert ids.split_path_id(body) == expected
