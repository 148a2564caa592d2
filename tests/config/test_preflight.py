"""Reference and expression checks that build nothing (they run before Lightning loads)."""

from __future__ import annotations

import pytest

from lighter.config import ConfigParser
from lighter.config.preflight import find_reference_problems
from lighter.errors import ExpressionError, MissingReferenceError


def _problems(config: dict, roots=None) -> list[str]:
    return [str(p) for p in find_reference_problems(ConfigParser(config).graph, roots)]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param({"a": 1, "b": "@a", "c": "$@b + 1"}, [], id="all-there"),
        pytest.param(
            {"a": 1, "b": "@aa"}, ["@ b: reference '@aa' does not exist (did you mean 'a'?)"], id="missing"
        ),
        pytest.param(
            {"a": {"x": 1}, "b": "$@a#y * 2"},
            ["@ b: reference '@a#y' does not exist (did you mean 'a#x'?)"],
            id="missing-in-an-expression",
        ),
        pytest.param(
            {"b": "$(1 +"},
            [
                "@ b: expression '$(1 +' failed: SyntaxError: '(' was never closed (<config expression>, line 1)"
            ],
            id="syntax-error",
        ),
        pytest.param(
            {"m": {"_target_": "no.such.Thing", "_disabled_": True, "x": "@nope"}},
            [],
            id="disabled-component",
        ),
        pytest.param({"l": [1, {"k": "@##0"}]}, [], id="relative-reference"),
        pytest.param(
            {"a": "%b", "b": {"c": "@nope"}}, ["@ a#c: reference", "@ b#c: reference"], id="macro-copy"
        ),
    ],
)
def test_reference_problems(config, expected):
    problems = _problems(config)
    assert len(problems) == len(expected)
    for problem, start in zip(problems, expected, strict=True):
        assert problem.startswith(start)


def test_only_what_the_roots_reach_is_checked():
    config = {
        "vars": {"used": "@vars#x", "unused": "@nope", "x": "@nowhere"},
        "trainer": {"lr": "@vars#used"},
    }
    assert _problems(config, ["trainer"]) == ["@ vars#x: reference '@nowhere' does not exist"]
    assert len(_problems(config)) == 2


def test_problems_are_the_errors_resolution_raises():
    parser = ConfigParser({"a": "@nope", "b": "$)"})
    found = find_reference_problems(parser.graph)
    for problem in found:
        with pytest.raises(type(problem)) as caught:
            ConfigParser({"a": "@nope", "b": "$)"}).get_parsed_content(problem.id)
        assert str(caught.value) == str(problem)
    assert [type(p) for p in found] == [MissingReferenceError, ExpressionError]
