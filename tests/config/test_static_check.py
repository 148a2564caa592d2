"""``ConfigParser.find_problems`` (config/static_check.py): every problem of a whole config, found
without building anything."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lighter.config import ConfigParser

# A target whose construction would be visible: the pre-flight must never call it.
PROBE = """
CALLS = []


class Heavy:
    def __init__(self, size: int, name: str = "x"):
        CALLS.append(size)
"""


@pytest.fixture
def probe(tmp_path, monkeypatch):
    (tmp_path / "h4probe.py").write_text(PROBE)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("h4probe", None)
    import h4probe

    yield h4probe
    sys.modules.pop("h4probe", None)


def problems(text: str, tmp_path: Path, *overrides: str) -> list[str]:
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    parser = ConfigParser()
    parser.read_config(str(path))
    parser.apply_overrides(list(overrides))
    before = parser.config.copy()
    found = [str(p).replace(str(tmp_path) + "/", "") for p in parser.find_problems()]
    assert parser.config == before
    return found


CASES = [
    pytest.param(
        "a:\n  _target_: h4probe.Heavi\n  size: 1\n",
        [
            "exp.yaml:2 @ a: cannot import 'h4probe.Heavi': module 'h4probe' has no attribute 'Heavi' (did you mean 'h4probe.Heavy'?)"
        ],
        id="target-not-importable",
    ),
    pytest.param(
        "a:\n  _target_: h4probe.Heavy\n  sise: 1\n",
        [
            "exp.yaml:3 @ a: h4probe.Heavy got an unexpected argument 'sise' (did you mean 'size'?)",
            "exp.yaml:1 @ a: h4probe.Heavy is missing required argument 'size'",
        ],
        id="argument-names",
    ),
    pytest.param(
        "a:\n  _target_: h4probe.Heavy\n  size: ten\n",
        ["exp.yaml:3 @ a#size: expects int, got 'ten' (str)"],
        id="literal-type",
    ),
    pytest.param(
        "a:\n  _target_: h4probe.Heavy\n  size: 1\n  name: '@b'\nb: [1]\n",
        ["exp.yaml:4 @ a#name: expects str, got [1] (list)"],
        id="reference-to-a-plain-value-is-known",
    ),
    pytest.param(
        "a:\n  _target_: h4probe.Heavy\n  size: 1\n  name: '@b'\nb:\n  _target_: builtins.list\n",
        [],
        id="reference-value-not-guessed",
    ),
    pytest.param(
        "a:\n  _target_: h4probe.Heavy\n  _mode_: callable\n",
        [],
        id="callable-mode-may-leave-arguments-out",
    ),
    pytest.param(
        "a:\n  _target_: h4probe.Heavy\n  _mode_: calable\n  size: 1\n",
        [
            "exp.yaml:3 @ a: unknown _mode_ 'calable' (one of default, callable, debug) (did you mean 'callable'?)"
        ],
        id="mode",
    ),
    pytest.param(
        "a:\n  _target_: h4probe.Heavy\n  _args_: [1, x, 3]\n",
        [
            "exp.yaml:3 @ a: h4probe.Heavy takes 2 positional arguments but _args_ gives 3",
        ],
        id="positional",
    ),
    pytest.param(
        "a:\n  _target_: h4probe.Heavy\n  _disabled_: true\n  sise: x\n",
        [],
        id="disabled-component-is-not-checked",
    ),
    pytest.param(
        "a: '@b#c'\nb: {d: 1}\n",
        ["exp.yaml:1 @ a: reference '@b#c' does not exist (did you mean 'b#d'?)"],
        id="missing-reference",
    ),
    pytest.param(
        "a: '@vars#learning_rate'\nvars: {lr: 1}\n",
        ["exp.yaml:1 @ a: reference '@vars#learning_rate' does not exist (did you mean 'vars#lr'?)"],
        id="missing-reference-initials",
    ),
    pytest.param(
        "a: '$len(@b) +'\nb: [1]\n",
        [
            "exp.yaml:1 @ a: expression '$len(@b) +' failed: SyntaxError: invalid syntax (<config expression>, line 1)"
        ],
        id="expression-syntax",
    ),
    pytest.param(
        "a: '$[x * 2 for x in range(3)] + sorted(@b, key=lambda v: -v) + [np.pi, torh.pi]'\nb: [1]\n",
        [
            "exp.yaml:1 @ a: expression '$[x * 2 for x in range(3)] + sorted(@b, key=lambda v: -v) + [np.pi, torh.pi]' "
            "uses 'torh', which is not defined (did you mean 'torch'?)"
        ],
        id="expression-names",
    ),
    pytest.param(
        "imports: ['$import math']\na: '$math.pi'\nb: '$mth.pi'\n",
        ["exp.yaml:3 @ b: expression '$mth.pi' uses 'mth', which is not defined (did you mean 'math'?)"],
        id="names-from-import",
    ),
    pytest.param(
        "_requires_: '$import nosuchmodule_h4'\n",
        [
            "exp.yaml:1 @ _requires_: '$import nosuchmodule_h4' failed: ModuleNotFoundError: No module named 'nosuchmodule_h4'"
        ],
        id="failing-import",
    ),
    pytest.param(
        "a: '@b'\nb: {c: '@a'}\n",
        [
            "exp.yaml:2 @ b#c: circular reference: a -> b -> b#c -> a\n  a  (exp.yaml:1)\n  b  (exp.yaml:2)\n  b#c  (exp.yaml:2)"
        ],
        id="cycle",
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_problems_found_without_building(text, expected, tmp_path, probe):
    assert problems(text, tmp_path) == expected
    assert probe.CALLS == []


def test_independent_mistakes_are_all_reported_and_nothing_is_built(tmp_path, probe):
    text = (
        "a:\n  _target_: h4probe.Heavy\n  size: ten\n"  # 1: a literal of the wrong type
        "b:\n  _target_: h4probe.Hevy\n"  # 2: a target that does not import
        "c:\n  _target_: h4probe.Heavy\n  size: 1\n  nmae: x\n"  # 3: an argument name
        "d: '@a#sise'\n"  # 4: a reference
        "e: '$torh.zeros(1)'\n"  # 5: a name in an expression
    )
    found = problems(text, tmp_path, "--c#size=2")
    assert [line.split(": ", 1)[0] for line in found] == [
        "exp.yaml:3 @ a#size",
        "exp.yaml:5 @ b",
        "exp.yaml:9 @ c",
        "exp.yaml:10 @ d",
        "exp.yaml:11 @ e",
    ]
    assert probe.CALLS == []


def test_macro_copies_are_checked_where_they_land(tmp_path, probe):
    text = "a:\n  _target_: h4probe.Heavy\n  size: x\nb: '%a'\n"
    assert problems(text, tmp_path) == [
        "exp.yaml:3 @ a#size: expects int, got 'x' (str)",
        "exp.yaml:3 @ b#size: expects int, got 'x' (str)",
    ]


CYCLE_REPORT = """
import sys
from lighter.config import ConfigParser
parser = ConfigParser()
parser.read_config(sys.argv[1])
for roots in (None, ["system"]):
    for problem in parser.find_problems(roots):
        print(problem)
"""


def test_cycle_report_does_not_depend_on_string_hashing(tmp_path):
    """CI once reported the other end of a two-step cycle: the walk followed a set's order."""
    import subprocess

    path = tmp_path / "exp.yaml"
    path.write_text(
        "system:\n  model:\n"
        "    in_features: '@system#model#out_features'\n"
        "    out_features: '@system#model#in_features'\n"
    )
    reports = set()
    for seed in ("0", "1", "2", "3", "4", "5", "6", "7"):
        env = {**__import__("os").environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", CYCLE_REPORT, str(path)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        reports.add(done.stdout)
    assert len(reports) == 1, reports
    (report,) = reports
    first = report.splitlines()[0]
    assert first.endswith(
        "exp.yaml:4 @ system#model#out_features: circular reference: "
        "system#model#in_features -> system#model#out_features -> system#model#in_features"
    )
