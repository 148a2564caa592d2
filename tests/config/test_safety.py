"""Safe mode: every place a config would run code is found, and refused unless allowed."""

from __future__ import annotations

import pytest

from lighter.config import ConfigParser
from lighter.config.safety import DEFAULT_ALLOW, allowed_packages, check_safe, code_sites, safe_requested
from lighter.errors import UnsafeConfigError, ValidationError

UNSAFE = """\
project: my_project
vars:
  shell: "$__import__('os').system('echo owned')"
  ok: "$@system#model.parameters()"
_requires_: "$import os"
system:
  model:
    _target_: torch.nn.Linear
    in_features: 2
    out_features: 1
  callback:
    _target_: os.system
    _args_: [echo owned]
  hub:
    _target_: torch.hub.load
  private:
    _target_: torch._C._get_tracing_state
  builtin:
    _target_: eval
  monai_name:
    _target_: Compose
  debugger:
    _target_: torch.nn.Identity
    _mode_: debug
  copy: "%vars#shell"
"""


@pytest.fixture
def parser(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exp.yaml").write_text(UNSAFE)
    parser = ConfigParser()
    parser.read_config("exp.yaml")
    return parser


def test_every_code_site_is_listed_with_its_verdict(parser):
    sites = [(s.id, s.kind, s.allowed) for s in code_sites(parser)]
    assert sites == [
        ("project", "project", False),
        ("vars#shell", "expression", False),
        ("vars#ok", "expression", True),
        ("_requires_", "import", False),
        ("system#model#_target_", "target", True),
        ("system#callback#_target_", "target", False),
        ("system#hub#_target_", "target", False),
        ("system#private#_target_", "target", False),
        ("system#builtin#_target_", "target", False),
        ("system#monai_name#_target_", "target", True),
        ("system#debugger#_target_", "target", True),
        ("system#debugger#_mode_", "debug", False),
        ("system#copy", "expression", False),  # a macro copy is judged where it lands
    ]


def test_all_refusals_are_reported_at_once_and_located(parser):
    with pytest.raises(ValidationError) as info:
        check_safe(parser)
    lines = str(info.value).splitlines()
    assert lines == [
        "exp.yaml:1 @ project: safe mode refuses importing the project folder 'my_project' "
        "(allow it with --allow project)",
        "exp.yaml:3 @ vars#shell: safe mode refuses '$' expressions: $__import__('os').system('echo owned')",
        "exp.yaml:5 @ _requires_: safe mode refuses '$import': $import os",
        "exp.yaml:12 @ system#callback#_target_: safe mode refuses target 'os.system': 'os' is not an allowed "
        f"package (allowed: {', '.join(DEFAULT_ALLOW)}; add it with --allow os)",
        "exp.yaml:15 @ system#hub#_target_: safe mode refuses 'torch.hub.load': torch.hub imports or runs code by name",
        "exp.yaml:17 @ system#private#_target_: safe mode refuses private names in a target: "
        "'torch._C._get_tracing_state'",
        "exp.yaml:19 @ system#builtin#_target_: safe mode refuses the builtin 'eval' as a target",
        "exp.yaml:24 @ system#debugger#_mode_: safe mode refuses _mode_: debug (it opens the debugger)",
        "exp.yaml:3 @ system#copy: safe mode refuses '$' expressions: $__import__('os').system('echo owned')",
        "(9 problems in the config)",
    ]
    assert all(isinstance(e, UnsafeConfigError) for e in info.value.errors)


def test_allowing_a_package_and_the_project(parser):
    refused = {
        s.id for s in code_sites(parser, allowed_packages(["os", "project"], environ={})) if not s.allowed
    }
    assert "system#callback#_target_" not in refused and "project" not in refused
    assert "vars#shell" in refused  # expressions stay refused whatever is allowed


def test_a_safe_parser_refuses_before_building_anything(tmp_path):
    marker = tmp_path / "ran"
    config = {
        "x": {"_target_": "pathlib.Path.touch", "_args_": [str(marker)]},
        "y": f"$open({str(marker)!r}, 'w')",
    }
    parser = ConfigParser(config, safe=True)
    with pytest.raises(ValidationError) as info:
        parser.get_parsed_content("x")
    assert [e.id for e in info.value.errors] == ["x#_target_", "y"]
    assert not marker.exists()
    # The copy a runner prunes keeps the mode.
    with pytest.raises(ValidationError):
        parser.copy().get_parsed_content("x")
    # Allowed targets and read-only expressions build as usual.
    allowed = ConfigParser(
        {"m": {"_target_": "torch.nn.Linear", "in_features": 2, "out_features": 1}, "p": "$@m.parameters()"},
        safe=True,
    )
    assert len(list(allowed.get_parsed_content("p"))) == 2


@pytest.mark.parametrize(
    ("flag", "environ", "expected"),
    [
        pytest.param(False, {}, False, id="off"),
        pytest.param(True, {}, True, id="flag"),
        pytest.param(False, {"LIGHTER_SAFE": "1"}, True, id="env"),
        pytest.param(False, {"LIGHTER_SAFE": "0"}, False, id="env-zero"),
    ],
)
def test_safe_mode_is_read_per_call(flag, environ, expected):
    assert safe_requested(flag, environ) is expected


def test_allow_list_from_flags_and_environment():
    allowed = allowed_packages(["project"], environ={"LIGHTER_ALLOW": "torchvision, timm"})
    assert allowed == (*DEFAULT_ALLOW, "project", "torchvision", "timm")


def test_a_site_reads_as_one_line_for_a_listing(parser):
    sites = {s.id: str(s) for s in code_sites(parser)}
    assert sites["vars#ok"] == "exp.yaml:4 @ vars#ok: expression $@system#model.parameters() (allowed)"
    assert sites["_requires_"] == (
        "exp.yaml:5 @ _requires_: import $import os (safe mode refuses '$import': $import os)"
    )
