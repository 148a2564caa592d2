"""Safe mode: every place a config would run code is found, and refused unless allowed."""

from __future__ import annotations

import pytest

from lighter.config import ConfigParser
from lighter.config.safety import DEFAULT_ALLOW, allowed_packages, check_safe, code_sites, safe_requested
from lighter.errors import ConfigError, UnsafeConfigError, ValidationError

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
    shell = (
        "safe mode refuses the name '__import__' in an expression (only references, lambda parameters, "
        "torch, monai and allowed imports): $__import__('os').system('echo owned')"
    )
    assert lines == [
        "exp.yaml:1 @ project: safe mode refuses importing the project folder 'my_project' "
        "(allow it with --allow project)",
        f"exp.yaml:3 @ vars#shell: {shell}",
        "exp.yaml:5 @ _requires_: safe mode refuses importing 'os' whatever is allowed: it runs processes and "
        "changes files",
        "exp.yaml:12 @ system#callback#_target_: safe mode refuses 'os.system' whatever is allowed: it runs "
        "processes and changes files (os) (only --allow os.system, this exact name, lifts it)",
        "exp.yaml:15 @ system#hub#_target_: safe mode refuses 'torch.hub.load' whatever is allowed: it downloads "
        "and runs a repository's code (torch.hub) (only --allow torch.hub.load, this exact name, lifts it)",
        "exp.yaml:17 @ system#private#_target_: safe mode refuses private names: 'torch._C._get_tracing_state'",
        "exp.yaml:19 @ system#builtin#_target_: safe mode refuses the builtin 'eval'",
        "exp.yaml:24 @ system#debugger#_mode_: safe mode refuses _mode_: debug (it opens the debugger)",
        f"exp.yaml:3 @ system#copy: {shell}",
        "(9 problems in the config)",
    ]
    assert all(isinstance(e, UnsafeConfigError) for e in info.value.errors)


def test_allowing_a_package_and_the_project(parser):
    refused = {s.id for s in code_sites(parser, ["os", "project"]) if not s.allowed}
    assert "project" not in refused
    assert "system#callback#_target_" in refused  # os.system is hard-denied: a package does not lift it
    assert "system#callback#_target_" not in {
        s.id for s in code_sites(parser, ["os.system"]) if not s.allowed
    }
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
    allowed = allowed_packages(
        ["project", "torch.nn.Linear"], environ={"LIGHTER_ALLOW": "yaml, torchmetrics"}
    )
    assert allowed == ("project", "torch.nn.Linear", "yaml", "torchmetrics")
    assert DEFAULT_ALLOW == ()  # the defaults are the rules, not packages


@pytest.mark.parametrize(
    ("given", "environ", "first_line"),
    [
        pytest.param(
            ["torchmetric"],
            {},
            "command line: --allow torchmetric: there is no package 'torchmetric' (did you mean 'torchmetrics'?)",
            id="package",
        ),
        pytest.param(
            [],
            {"LIGHTER_ALLOW": "torchmetric"},
            "LIGHTER_ALLOW: torchmetric: there is no package 'torchmetric' (did you mean 'torchmetrics'?)",
            id="environment",
        ),
        pytest.param(
            ["torch.nn.Linearr"],
            {},
            "command line: --allow torch.nn.Linearr: cannot import 'torch.nn.Linearr': module 'torch.nn' has no "
            "attribute 'Linearr' (did you mean 'torch.nn.Linear'?)",
            id="dotted",
        ),
        pytest.param(
            ["project.models"],
            {},
            "command line: --allow project.models: the project folder is allowed as a whole (--allow project)",
            id="project-part",
        ),
    ],
)
def test_allowing_a_name_that_does_not_exist_is_an_error_with_a_suggestion(given, environ, first_line):
    with pytest.raises(ConfigError) as info:
        allowed_packages(given, environ=environ)
    assert str(info.value).splitlines()[0] == first_line


def test_a_site_reads_as_one_line_for_a_listing(parser):
    sites = {s.id: str(s) for s in code_sites(parser)}
    assert sites["vars#ok"] == "exp.yaml:4 @ vars#ok: expression $@system#model.parameters() (allowed)"
    assert sites["_requires_"] == (
        "exp.yaml:5 @ _requires_: import $import os (safe mode refuses importing 'os' whatever is allowed: "
        "it runs processes and changes files)"
    )


# --- the allow-list, by rule and by review ------------------------------------------------------

ALLOWED_TARGETS = [
    "torch.nn.Linear",
    "torch.nn.modules.loss.CrossEntropyLoss",  # an alias: judged on the class itself
    "torch.optim.Adam",
    "torch.optim.lr_scheduler.CosineAnnealingLR",
    "torch.optim.lr_scheduler.ReduceLROnPlateau",
    "torch.utils.data.DataLoader",
    "torch.utils.data.TensorDataset",
    "torch.utils.data.RandomSampler",
    "torchmetrics.Accuracy",
    "torchmetrics.MetricCollection",
    "monai.networks.nets.UNet",
    "monai.losses.DiceLoss",
    "monai.metrics.DiceMetric",
    "monai.inferers.SlidingWindowInferer",
    "monai.transforms.Compose",
    "Compose",  # MONAI's bare names
    "monai.data.CacheDataset",
    "monai.data.DataLoader",
    "pytorch_lightning.Trainer",
    "pytorch_lightning.callbacks.ModelCheckpoint",
    "pytorch_lightning.loggers.CSVLogger",
    "lighter.System",
    "lighter.adapters.BatchAdapter",
    "lighter.callbacks.FileWriter",
    "lighter.callbacks.Freezer",
    "torch.randn",
    "torch.randint",
    "torch.nn.functional.relu",
    "monai.data.utils.pad_list_data_collate",
]

REFUSED_TARGETS = [
    pytest.param("torch.save", "not on safe mode's allow-list", id="unlisted-torch"),
    pytest.param("torch.Tensor", "not on safe mode's allow-list", id="unlisted-class"),
    pytest.param("yaml.safe_load", "not on safe mode's allow-list", id="unlisted-package"),
    pytest.param("monai.apps.DecathlonDataset", "not on safe mode's allow-list", id="monai-apps-dataset"),
    pytest.param("torch.os.system", "whatever is allowed: it runs processes", id="alias-reaching-os"),
    pytest.param("torch.serialization.load", "unless weights_only: true", id="torch-load-alias"),
    pytest.param("monai.data.PersistentDataset", "it unpickles its cache files", id="persistent-dataset"),
    pytest.param(
        "monai.data.CacheNTransDataset", "a monai.data.PersistentDataset subclass", id="persistent-subclass"
    ),
    pytest.param("torch.serialization.add_safe_globals", "widens what weights_only", id="safe-globals"),
    pytest.param("project.models.Net", "from the project folder", id="project"),
    pytest.param("exec", "the builtin 'exec'", id="builtin"),
    pytest.param("torch.nn", "a module as a value", id="module"),
    pytest.param("yaml", "not on safe mode's allow-list", id="bare-module-not-imported"),
    pytest.param("run_cmd", "it runs shell commands", id="bare-monai-name"),
    pytest.param(
        "lighter.callbacks.write_queue.WriteQueue", "not on safe mode's allow-list", id="lighter-helper"
    ),
]


@pytest.mark.parametrize("target", ALLOWED_TARGETS)
def test_the_default_allow_list_allows_what_builds_an_experiment(target):
    from lighter.config.safe_list import Allowed, judge_target

    assert judge_target(target, Allowed()) is None


@pytest.mark.parametrize(("target", "why"), REFUSED_TARGETS)
def test_everything_else_is_refused(target, why):
    from lighter.config.safe_list import Allowed, judge_target

    refusal = judge_target(target, Allowed())
    assert refusal is not None and why in refusal, refusal


def test_allowing_a_package_allows_what_is_defined_there_but_not_its_hard_denied_names():
    from lighter.config.safe_list import Allowed, judge_target

    assert judge_target("torch.save", Allowed(("torch",))) is None
    assert judge_target("torch.hub.load", Allowed(("torch",))) is not None
    assert judge_target("torch.os.system", Allowed(("torch",))) is not None  # it is os.system, not torch's
    assert judge_target("torch.hub.load", Allowed(("torch.hub.load",))) is None  # the exact name lifts it
    assert judge_target("yaml.safe_load", Allowed(("yaml",))) is None
    assert judge_target("torch.load", Allowed(), {"weights_only": True}) is None
    assert judge_target("torch.load", Allowed(), {"weights_only": False}) is not None


EXPRESSIONS = [
    pytest.param("$@system#model.parameters()", None, id="method-without-arguments"),
    pytest.param("$lambda logits: logits.argmax(dim=1)", None, id="lambda-reviewed-method"),
    pytest.param("$lambda logits: (torch.sigmoid(logits) > 0.5).float()", None, id="lambda-torch-function"),
    pytest.param("$@vars#run + '/predictions.csv'", None, id="string-concatenation"),
    pytest.param("$torch.randint(0, 2, (64,))", None, id="tensor-constructor"),
    pytest.param("$torch.float32", None, id="a-value"),
    pytest.param("$f'{@vars#run}/x'", None, id="f-string"),
    pytest.param("$__import__('os').system('id')", "the name '__import__'", id="dunder-import"),
    pytest.param("$open('/etc/passwd').read()", "the name 'open'", id="open"),
    pytest.param("$getattr(@system#model, 'x')", "the name 'getattr'", id="getattr"),
    pytest.param("$torch.load('x.pt')", "unless weights_only: true", id="torch-load"),
    pytest.param("$torch.utils.collect_env.run('id')", "it runs shell commands", id="collect-env"),
    pytest.param("$@system#model.__class__", "private attributes", id="private-attribute"),
    pytest.param("$@vars#x.os.system('id')", "'.os'", id="attribute-reaching-os"),
    pytest.param(
        "$@vars#x.write_text('owned')", "calling '.write_text' with arguments", id="unreviewed-method"
    ),
    pytest.param("$[x for x in range(3)]", "ListComp", id="comprehension"),
    pytest.param("$@vars#x.factory()('id')", "calling what a call returns", id="call-a-call-result"),
    pytest.param("$(lambda x: x.sum(dim=0))(torch.ones(2, 2))", None, id="call-a-lambda"),
    pytest.param("$torch.nn", "a module as a value", id="module"),
    pytest.param("$np.load('x.npy', allow_pickle=True)", "it can unpickle", id="numpy-load"),
    pytest.param(
        "$@system#model.load_from_checkpoint('x.ckpt')", "unpickles a checkpoint", id="load-from-checkpoint"
    ),
]


@pytest.mark.parametrize(("expression", "why"), EXPRESSIONS)
def test_expressions_are_judged_part_by_part(expression, why):
    site = next(s for s in code_sites(ConfigParser({"vars": {"e": expression}})) if s.id == "vars#e")
    if why is None:
        assert site.allowed, site.refusal
    else:
        assert site.refusal is not None and why in site.refusal, site.refusal


@pytest.mark.parametrize(
    ("statement", "allowed"),
    [
        pytest.param("$import torch", True, id="torch"),
        pytest.param("$import torch.nn.functional as F", True, id="submodule-as"),
        pytest.param("$from torch import randn", True, id="from-allowed"),
        pytest.param("$import os", False, id="os"),
        pytest.param("$from torch import load", False, id="from-hard-denied"),
        pytest.param("$from torch.hub import *", False, id="star"),
        pytest.param("$import yaml", False, id="unlisted"),
    ],
)
def test_imports_are_judged_as_what_they_bind(statement, allowed):
    site = next(s for s in code_sites(ConfigParser({"_requires_": statement})) if s.id == "_requires_")
    assert site.allowed is allowed, site.refusal


def test_a_name_an_allowed_import_binds_is_judged_where_it_is_used():
    config = {"_requires_": "$import torch.nn.functional as F", "a": "$F.relu", "b": "$F.torch.load('x')"}
    verdicts = {s.id: s.allowed for s in code_sites(ConfigParser(config))}
    assert verdicts == {"_requires_": True, "a": True, "b": False}


def test_the_docs_table_names_every_rule_and_every_hard_denied_name():
    from pathlib import Path

    from lighter.config.safe_list import HARD_DENY, RULES

    page = (Path(__file__).resolve().parents[2] / "docs" / "safe_mode.md").read_text()
    assert [rule.what for rule in RULES if f"| {rule.what} |" not in page] == []
    assert [name for name in HARD_DENY if f"`{name}`" not in page] == []
