"""Configs written to escape safe mode: every one is refused, and its payload never runs.

Each case adds one component (or expression, or folder) to an otherwise valid experiment. Where a
payload can be made on a CPU it is real: a shell command, a shared library whose constructor runs
on load, a pickle whose ``__reduce__`` runs on load, a project folder whose ``__init__.py`` runs on
import, each writing a marker file. A few cases prove, outside safe mode, that their payload does
run; every case asserts that in safe mode it is refused and the marker is never written. Most go
through one in-process call of the runner; a few through the real ``lighter`` command.

Keep this corpus growing: a new way out is a new ``pytest.param``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from lighter.config import ConfigParser
from lighter.engine.check import check_config
from lighter.engine.runner import run
from lighter.errors import LighterError, ValidationError

BASE = """\
trainer:
  _target_: pytorch_lightning.Trainer
  max_epochs: 1
  accelerator: cpu
  logger: false
  enable_checkpointing: false
  enable_progress_bar: false
  enable_model_summary: false
  callbacks: []
system:
  _target_: lighter.System
  model:
    _target_: torch.nn.Linear
    in_features: 4
    out_features: 2
  criterion:
    _target_: torch.nn.CrossEntropyLoss
  optimizer:
    _target_: torch.optim.SGD
    params: "$@system#model.parameters()"
    lr: 0.1
  dataloaders:
    train:
      _target_: torch.utils.data.DataLoader
      batch_size: 8
      dataset:
        _target_: torch.utils.data.TensorDataset
        _args_: ["$torch.randn(16, 4)", "$torch.randint(0, 2, (16,))"]
"""

CONSTRUCTOR = """\
#include <stdio.h>
__attribute__((constructor)) static void payload(void) {
    FILE *f = fopen(MARKER, "w");
    if (f) { fputs("ran", f); fclose(f); }
}
"""


class Payloads:
    """Files that run code when used, each writing the marker ``<folder>/markers/<name>``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        (folder / "markers").mkdir()

    def marker(self, name: str) -> Path:
        return self.folder / "markers" / name

    def library(self, name: str) -> Path:
        """A shared library whose constructor writes the marker when it is loaded."""
        compiler = shutil.which("cc") or shutil.which("gcc")
        if compiler is None:
            pytest.skip("no C compiler (cc, gcc) to build the shared-library payload")
        source = self.folder / f"{name}.c"
        source.write_text(CONSTRUCTOR)
        library = self.folder / f"lib{name}.so"
        subprocess.run(
            [
                compiler,
                "-shared",
                "-fPIC",
                f'-DMARKER="{self.marker(name)}"',
                str(source),
                "-o",
                str(library),
            ],
            check=True,
            capture_output=True,
        )
        return library

    def pickle(self, name: str) -> Path:
        """A file ``torch.save`` wrote, holding an object whose unpickling writes the marker."""
        import torch

        path = self.folder / f"{name}.pt"
        torch.save({"state_dict": {}, "payload": _Payload(str(self.marker(name)))}, path)
        return path

    def project(self, name: str) -> Path:
        """A project folder whose ``__init__.py`` writes the marker when imported."""
        folder = self.folder / name
        folder.mkdir()
        (folder / "__init__.py").write_text(f"open({str(self.marker(name))!r}, 'w').write('ran')\n")
        return folder


class _Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))  # unpickling this creates the marker file


@pytest.fixture
def payloads(tmp_path, monkeypatch) -> Payloads:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LIGHTER_SAFE", raising=False)
    monkeypatch.delenv("LIGHTER_ALLOW", raising=False)
    return Payloads(tmp_path)


def _experiment(folder: Path, extra: dict | None = None, name: str = "exp.yaml") -> Path:
    config = yaml.safe_load(BASE)
    for key, value in (extra or {}).items():
        target = config
        *parents, last = key.split("#")
        for part in parents:
            target = target[part]
        target[last] = value
    path = folder / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _callback(payload: dict) -> dict:
    return {"trainer#callbacks": [payload]}


def _shell(p: Payloads, name: str) -> str:
    return f"touch {p.marker(name)}"


def _checkpoint_with_config(p: Payloads, name: str) -> Path:
    """A checkpoint whose embedded config imports a project folder and runs a shell command."""
    import torch

    config = yaml.safe_load(BASE)
    config["project"] = str(p.project(f"{name}_project"))
    config["system"]["model"] = {"_target_": "torch.utils.collect_env.run", "_args_": [_shell(p, name)]}
    path = p.folder / f"{name}.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": config}, path)
    return path


def _numpy_pickle(p: Payloads, name: str) -> Path:
    """A ``.npy`` file holding an object whose unpickling writes the marker."""
    import numpy as np

    path = p.folder / f"{name}.npy"
    np.save(path, np.array([_Payload(str(p.marker(name)))], dtype=object), allow_pickle=True)
    return path


# Each case: (what it adds to BASE, given the payloads and the marker's name) -> (extra, overrides).
CASES = [
    pytest.param(
        lambda p, m: (_callback({"_target_": "torch.utils.collect_env.run", "_args_": [_shell(p, m)]}), []),
        "trainer#callbacks#0#_target_",
        id="collect_env.run-shell",
    ),
    pytest.param(
        lambda p, m: (
            _callback({"_target_": "monai.utils.run_cmd", "_args_": [["touch", str(p.marker(m))]]}),
            [],
        ),
        "trainer#callbacks#0#_target_",
        id="monai.run_cmd-shell",
    ),
    pytest.param(
        lambda p, m: (_callback({"_target_": "torch.ops.load_library", "_args_": [str(p.library(m))]}), []),
        "trainer#callbacks#0#_target_",
        id="torch.ops.load_library",
    ),
    pytest.param(
        lambda p, m: (
            _callback({"_target_": "torch.classes.load_library", "_args_": [str(p.library(m))]}),
            [],
        ),
        "trainer#callbacks#0#_target_",
        id="torch.classes.load_library",
    ),
    pytest.param(
        lambda p, m: (
            _callback({"_target_": "torch.load", "_args_": [str(p.pickle(m))], "weights_only": False}),
            [],
        ),
        "trainer#callbacks#0#_target_",
        id="torch.load-weights_only-false",
    ),
    pytest.param(
        lambda p, m: (_callback({"_target_": "torch.serialization.load", "_args_": [str(p.pickle(m))]}), []),
        "trainer#callbacks#0#_target_",
        id="torch.serialization.load",
    ),
    pytest.param(
        lambda p, m: (
            _callback(
                {
                    "_target_": "torch.utils.model_zoo.load_url",
                    "_args_": [p.pickle(m).as_uri()],
                    "model_dir": str(p.folder / "zoo"),
                    "weights_only": False,
                }
            ),
            [],
        ),
        "trainer#callbacks#0#_target_",
        id="model_zoo.load_url",
    ),
    pytest.param(
        lambda p, m: (_callback({"_target_": "torch.jit.load", "_args_": [str(p.pickle(m))]}), []),
        "trainer#callbacks#0#_target_",
        id="torch.jit.load",
    ),
    pytest.param(
        lambda p, m: (
            _callback(
                {
                    "_target_": "lighter.load",
                    "_args_": [str(_experiment(p.folder, {"project": str(p.project(m))}, "other.yaml"))],
                }
            ),
            [],
        ),
        "trainer#callbacks#0#_target_",
        id="lighter.load-another-config",
    ),
    pytest.param(
        lambda p, m: (
            _callback(
                {"_target_": "lighter.load_checkpoint", "_args_": [str(_checkpoint_with_config(p, m))]}
            ),
            [],
        ),
        "trainer#callbacks#0#_target_",
        id="lighter.load_checkpoint",
    ),
    pytest.param(
        lambda p, m: (
            _callback(
                {
                    "_target_": "lighter.System.load_from_checkpoint",
                    "_args_": [str(_checkpoint_with_config(p, m))],
                }
            ),
            [],
        ),
        "trainer#callbacks#0#_target_",
        id="System.load_from_checkpoint",
    ),
    pytest.param(
        lambda p, m: (
            _callback(
                {"_target_": "torch.distributed.rpc.init_rpc", "name": "w", "rank": 0, "world_size": 1}
            ),
            [],
        ),
        "trainer#callbacks#0#_target_",
        id="rpc.init_rpc-server",
    ),
    pytest.param(
        lambda p, m: (_callback({"_target_": "pytorch_lightning.cli.LightningCLI", "args": ["fit"]}), []),
        "trainer#callbacks#0#_target_",
        id="LightningCLI",
    ),
    pytest.param(
        lambda p, m: (
            _callback(
                {
                    "_target_": "monai.apps.download_and_extract",
                    "url": p.pickle(m).as_uri(),
                    "filepath": str(p.marker(m)),
                }
            ),
            [],
        ),
        "trainer#callbacks#0#_target_",
        id="monai.download_and_extract",
    ),
    pytest.param(lambda p, m: ({"project": str(p.project(m))}, []), "project", id="project-folder"),
    pytest.param(
        lambda p, m: (_callback({"_target_": "torch.os.system", "_args_": [_shell(p, m)]}), []),
        "trainer#callbacks#0#_target_",
        id="alias-torch.os.system",
    ),
    pytest.param(
        lambda p, m: (_callback({"_target_": "subprocess.run", "_args_": [["touch", str(p.marker(m))]]}), []),
        "trainer#callbacks#0#_target_",
        id="subprocess.run",
    ),
    pytest.param(
        lambda p, m: (_callback({"_target_": "exec", "_args_": [f"open({str(p.marker(m))!r}, 'w')"]}), []),
        "trainer#callbacks#0#_target_",
        id="builtin-exec",
    ),
    pytest.param(
        lambda p, m: (
            {
                "system#dataloaders#train#dataset": {
                    "_target_": "monai.data.PersistentDataset",
                    "data": [],
                    "transform": None,
                    "cache_dir": str(p.folder),
                }
            },
            [],
        ),
        "system#dataloaders#train#dataset#_target_",
        id="PersistentDataset-unpickles-cache",
    ),
    pytest.param(
        lambda p, m: (
            _callback(
                {
                    "_target_": "monai.bundle.ConfigParser",
                    "config": {"x": f"$__import__('os').system({_shell(p, m)!r})"},
                }
            ),
            [],
        ),
        "trainer#callbacks#0#_target_",
        id="monai.bundle.ConfigParser",
    ),
    pytest.param(
        lambda p, m: (_callback({"_target_": "lighter.config.ConfigParser", "config": {}}), []),
        "trainer#callbacks#0#_target_",
        id="lighter.ConfigParser",
    ),
    pytest.param(
        lambda p, m: (
            {
                "system#dataloaders#train#dataset": {
                    "_target_": "monai.data.Dataset",
                    "data": [{"x": str(_numpy_pickle(p, m))}],
                    "transform": {
                        "_target_": "monai.transforms.LoadImaged",
                        "keys": ["x"],
                        "reader": "NumpyReader",
                        "allow_pickle": True,
                    },
                }
            },
            [],
        ),
        "system#dataloaders#train#dataset#transform#allow_pickle",
        id="LoadImage-allow_pickle",
    ),
    pytest.param(
        lambda p, m: (
            {
                "system#dataloaders#train#dataset": {
                    "_target_": "monai.data.Dataset",
                    "data": [],
                    "transform": {
                        "_target_": "monai.transforms.SaveImaged",
                        "keys": ["x"],
                        "writer": "subprocess.Popen",  # SaveImage imports a dotted writer name itself
                    },
                }
            },
            [],
        ),
        "system#dataloaders#train#dataset#transform#writer",
        id="SaveImage-writer-by-name",
    ),
    # --- the same through the other routes into a config ---------------------------------------
    pytest.param(
        lambda p, m: (
            {},
            [f"--trainer#callbacks=[{{_target_: torch.utils.collect_env.run, _args_: ['{_shell(p, m)}']}}]"],
        ),
        "trainer#callbacks#0#_target_",
        id="override",
    ),
    pytest.param(
        lambda p, m: (
            _callback(
                {
                    "_target_": "pytorch_lightning.callbacks.LambdaCallback",
                    "on_fit_start": {"_target_": "monai.utils.run_cmd", "_mode_": "callable"},
                }
            ),
            [],
        ),
        "trainer#callbacks#0#on_fit_start#_target_",
        id="mode-callable",
    ),
    pytest.param(
        lambda p, m: (
            {
                "trainer#callbacks": [
                    "%"
                    + str(
                        _write(
                            p.folder / "payload.yaml",
                            {"cb": {"_target_": "torch.utils.collect_env.run", "_args_": [_shell(p, m)]}},
                        )
                    )
                    + "#cb"
                ]
            },
            [],
        ),
        "trainer#callbacks#0#_target_",
        id="macro-from-another-file",
    ),
    pytest.param(
        lambda p, m: (
            {"system#_requires_": [{"_target_": "torch.utils.collect_env.run", "_args_": [_shell(p, m)]}]},
            [],
        ),
        "system#_requires_#0#_target_",
        id="requires",
    ),
    pytest.param(
        lambda p, m: ({"trainer#callbacks": [f"$__import__('os').system({_shell(p, m)!r})"]}, []),
        "trainer#callbacks#0",
        id="expression-dunder-import",
    ),
    pytest.param(
        lambda p, m: ({"trainer#callbacks": [f"$torch.utils.collect_env.run({_shell(p, m)!r})"]}, []),
        "trainer#callbacks#0",
        id="expression-through-torch",
    ),
    pytest.param(
        lambda p, m: ({"_requires_": "$import subprocess"}, []),
        "_requires_",
        id="import-statement",
    ),
    pytest.param(
        lambda p, m: (_callback({"_target_": "torch.nn.Identity", "_mode_": "debug"}), []),
        "trainer#callbacks#0#_mode_",
        id="debugger",
    ),
]


def _write(path: Path, content: dict) -> Path:
    path.write_text(yaml.safe_dump(content))
    return path


@pytest.mark.parametrize(("make", "refused_id"), CASES)
def test_every_escape_is_refused_and_its_payload_never_runs(payloads, make, refused_id):
    extra, overrides = make(payloads, "case")
    path = _experiment(payloads.folder, extra)
    with pytest.raises(ValidationError) as info:
        run("fit", str(path), overrides, safe=True)
    assert refused_id in [e.id for e in info.value.errors], str(info.value)
    assert all(e.location is not None for e in info.value.errors)
    assert not payloads.marker("case").exists()
    assert not (payloads.folder / "lightning_logs").exists()  # nothing was run at all


@pytest.mark.parametrize(
    "case",
    [
        "collect_env.run-shell",
        "monai.run_cmd-shell",
        "torch.ops.load_library",
        "torch.load-weights_only-false",
    ],
)
def test_the_payloads_are_real_outside_safe_mode(payloads, case):
    """The same component, built without safe mode, does write its marker."""
    make = next(p.values[0] for p in CASES if p.id == case)
    extra, _ = make(payloads, "real")
    config = yaml.safe_load(_experiment(payloads.folder, extra).read_text())
    try:
        ConfigParser(config).get_parsed_content("trainer#callbacks#0")
    except LighterError:
        pass  # e.g. run_cmd's result is not a callback: the payload ran before that mattered
    assert payloads.marker("real").exists()


def test_allowing_the_project_runs_it_as_documented(payloads):
    path = _experiment(payloads.folder, {"project": str(payloads.project("allowed"))})
    assert not check_config(str(path), safe=True).ok
    assert not payloads.marker("allowed").exists()
    report = check_config(str(path), safe=True, allow=["project"])
    assert report.ok, [str(p) for p in report.problems]
    assert payloads.marker("allowed").exists()  # --allow project: its __init__.py was imported


def test_a_hard_denied_name_is_refused_even_with_its_package_allowed(payloads):
    path = _experiment(
        payloads.folder, _callback({"_target_": "torch.utils.collect_env.run", "_args_": ["true"]})
    )
    report = check_config(str(path), safe=True, allow=["torch"])
    assert [str(p).split(" @ ", 1)[1] for p in report.problems] == [
        "trainer#callbacks#0#_target_: safe mode refuses 'torch.utils.collect_env.run' whatever is allowed: it "
        "runs shell commands (torch.utils.collect_env) (only --allow torch.utils.collect_env.run, this exact "
        "name, lifts it)"
    ]


def test_allowing_a_name_that_does_not_exist_stops_the_run_with_a_suggestion(payloads):
    from lighter.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        run("fit", str(_experiment(payloads.folder)), safe=True, allow=["torchmetric"])
    assert str(info.value) == (
        "command line: --allow torchmetric: there is no package 'torchmetric' (did you mean 'torchmetrics'?)"
    )


def test_load_checkpoint_in_safe_mode_refuses_the_config_it_carries(payloads, monkeypatch):
    import lighter

    checkpoint = _checkpoint_with_config(payloads, "carried")
    with pytest.raises(ValidationError) as info:
        lighter.load_checkpoint(checkpoint, safe=True)
    lines = str(info.value).splitlines()
    assert lines[0] == (
        f"{checkpoint} (its config) @ project: safe mode refuses importing the project folder "
        f"'{payloads.folder / 'carried_project'}' (allow it with --allow project)"
    )
    assert lines[1].startswith(f"{checkpoint} (its config) @ system#model#_target_: safe mode refuses ")
    monkeypatch.setenv("LIGHTER_SAFE", "1")  # the environment turns it on for the API too
    with pytest.raises(ValidationError):
        lighter.load_checkpoint(checkpoint)
    assert not payloads.marker("carried").exists()
    assert not payloads.marker("carried_project").exists()


def test_the_python_api_load_honours_safe_mode(payloads, monkeypatch):
    import lighter

    path = _experiment(payloads.folder, _callback({"_target_": "monai.utils.run_cmd", "_args_": [["true"]]}))
    with pytest.raises(ValidationError):
        lighter.load(path, safe=True)
    monkeypatch.setenv("LIGHTER_SAFE", "1")
    with pytest.raises(ValidationError):
        lighter.load(path)
    with pytest.raises(ValidationError):
        run("fit", str(path))  # safe=None reads LIGHTER_SAFE


def test_a_safe_run_reads_its_checkpoint_with_weights_only(payloads):
    """``args#fit#ckpt_path`` naming a pickle that runs code: a safe run unpickles nothing."""
    path = _experiment(payloads.folder)
    checkpoint = payloads.pickle("ckpt")
    with pytest.raises(Exception) as info:  # noqa: PT011 - whichever error Lightning raises, nothing ran
        run("fit", str(path), [f"--args#fit#ckpt_path={checkpoint}"], safe=True)
    assert "weights_only" in str(info.value) or "Unpickl" in repr(info.value.__cause__ or info.value)
    assert not payloads.marker("ckpt").exists()


@pytest.mark.slow
def test_a_safe_run_resumes_from_its_own_checkpoint(payloads):
    """lighter's checkpoints hold tensors and plain types only: weights_only reading loses nothing."""
    path = _experiment(payloads.folder)
    keep = ["--trainer#enable_checkpointing=true", "--trainer#default_root_dir=out"]
    run("fit", str(path), keep, safe=True)
    (checkpoint,) = (payloads.folder / "out").rglob("*.ckpt")
    metrics = run(
        "fit", str(path), [*keep, f"--args#fit#ckpt_path={checkpoint}", "--trainer#max_epochs=2"], safe=True
    )
    assert "train/loss/epoch" in metrics
    assert len(list((payloads.folder / "out").rglob("epoch=1-*.ckpt"))) == 1  # it went on to the second epoch


def test_a_safe_sweep_refuses_before_any_trial_and_passes_safe_mode_to_its_trials(payloads, monkeypatch):
    from lighter.engine import sweep

    sweep_section = {
        "monitor": "train/loss/epoch",
        "direction": "minimize",
        "trials": 1,
        "folder": str(payloads.folder / "sweep"),
        "params": {"lr": {"id": "system#optimizer#lr", "choice": [0.1]}},
    }
    bad = _experiment(
        payloads.folder, {"sweep": sweep_section, **_callback({"_target_": "os.system", "_args_": ["true"]})}
    )
    with pytest.raises(ValidationError):
        sweep.run_sweep(str(bad), safe=True, say=lambda _: None)
    assert not (payloads.folder / "sweep").exists()

    commands = []

    class Trial:  # the trial's own process is the boundary: record its command line, end it at once
        def __init__(self, command, **kwargs):
            commands.append(command)

        def wait(self, timeout=None):
            return 1

        def poll(self):
            return 1

    from lighter.engine import sweep_run

    monkeypatch.setattr(sweep_run.subprocess, "Popen", Trial)
    good = _experiment(payloads.folder, {"sweep": sweep_section}, "good.yaml")
    sweep.run_sweep(str(good), safe=True, allow=["yaml"], say=lambda _: None)
    assert len(commands) == 1
    assert commands[0][3:6] == ["fit", str(good), "--safe"] and "--allow=yaml" in commands[0]


# --- through the real `lighter` command --------------------------------------------------------


def test_the_command_refuses_a_native_library_given_as_an_override(payloads, lighter):
    library = payloads.library("cli")
    path = _experiment(payloads.folder)
    result = lighter(
        "fit",
        str(path),
        "--safe",
        f"--trainer#callbacks=[{{_target_: torch.ops.load_library, _args_: ['{library}']}}]",
        cwd=payloads.folder,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[0].startswith(
        "command line @ trainer#callbacks#0#_target_: safe mode refuses 'torch.ops.load_library' whatever is allowed"
    )
    assert "Traceback" not in result.stderr
    assert not payloads.marker("cli").exists()


def test_check_lists_every_refused_place_at_once(payloads, lighter):
    shell = _shell(payloads, "check")
    _write(
        payloads.folder / "payload.yaml",
        {"cb": {"_target_": "monai.utils.run_cmd", "_args_": [shell.split()]}},
    )
    path = _experiment(
        payloads.folder,
        {
            "project": str(payloads.project("check_project")),
            "trainer#callbacks": [
                {"_target_": "torch.utils.collect_env.run", "_args_": [shell]},
                "%payload.yaml#cb",
                {"_target_": "torch.load", "_args_": [str(payloads.pickle("check"))]},
            ],
            "system#_requires_": "$import subprocess",
        },
    )
    result = lighter("check", path.name, "--safe", cwd=payloads.folder)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    refused = [line for line in result.stderr.splitlines() if " @ " in line]
    ids = [line.split(" @ ")[1].split(":")[0] for line in refused]
    assert ids == [
        "project",
        "trainer#callbacks#0#_target_",
        "trainer#callbacks#1#_target_",
        "trainer#callbacks#2#_target_",
        "system#_requires_",
    ], result.stderr
    assert all(line.split(" @ ")[0].split(":")[1].isdigit() for line in refused)  # file:line for each
    assert "5 problems in exp.yaml (checked for fit; nothing built)" in result.stderr
    assert not payloads.marker("check").exists() and not payloads.marker("check_project").exists()


def test_the_allow_pickle_payload_is_real_outside_safe_mode(payloads):
    make = next(p.values[0] for p in CASES if p.id == "LoadImage-allow_pickle")
    extra, _ = make(payloads, "real")
    config = {"system": {"dataloaders": {"train": {"dataset": extra["system#dataloaders#train#dataset"]}}}}
    dataset = ConfigParser(config).get_parsed_content("system#dataloaders#train#dataset")
    try:
        dataset[0]
    except Exception:  # noqa: BLE001 - the unpickled object is no image: the payload ran before that
        pass
    assert payloads.marker("real").exists()


def test_the_sweep_command_takes_safe_and_a_mistyped_allow_is_reported(payloads, lighter):
    section = {
        "monitor": "train/loss/epoch",
        "direction": "minimize",
        "trials": 1,
        "folder": "sweep",
        "params": {"lr": {"id": "system#optimizer#lr", "choice": [0.1]}},
    }
    extra = {
        "sweep": section,
        **_callback({"_target_": "monai.utils.run_cmd", "_args_": [["touch", "pwned"]]}),
    }
    path = _experiment(payloads.folder, extra)
    result = lighter("sweep", path.name, "--safe", "--allow", "torchmetric", cwd=payloads.folder)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "command line: --allow torchmetric: there is no package 'torchmetric' (did you mean 'torchmetrics'?)"
    )
    result = lighter("sweep", path.name, "--safe", cwd=payloads.folder)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[0].startswith(
        "exp.yaml:10 @ trainer#callbacks#0#_target_: safe mode refuses 'monai.utils.run_cmd' whatever is allowed"
    ), result.stderr
    assert not (payloads.folder / "sweep").exists() and not (payloads.folder / "pwned").exists()
