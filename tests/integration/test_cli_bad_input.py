"""Broken files and values through the real ``lighter`` command: one located line, exit 1, no traceback.

Also: values and overrides as people type them (YAML 1.2 numbers, ``--id VALUE``, ``+``/``=``/``~``
prefixes), and mistakes that need no import reported before torch or Lightning loads.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HINT = "(run with --debug for the full traceback)"
_CORE_TAGS = "(a config takes YAML's core tags only: !!str, !!int, !!float, !!bool, !!null, !!map, !!seq)"


def _alias_bomb() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


def _with_vars(value: str) -> str:
    return f"vars:\n  x: {value}\n"


# name -> file content (bytes, or text written as UTF-8), appended to nothing: each is a whole file.
BAD_FILES = {
    "latin1.yaml": "seed: 1\n# café\n".encode("latin-1"),
    "stray_byte.yaml": b"seed: 1\nvars: {a: x\x80y}\n",
    "broken_utf16.yaml": b"\xff\xfes\x00:\x00 \x00\x00\xd8\n\x00",
    "deep_flow.yaml": "vars: " + "[" * 10_000 + "]" * 10_000 + "\n",
    "deep_block.yaml": "vars:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 400)),
    "recursive_alias.yaml": "vars: &v {a: *v}\n",
    "float_tag.yaml": _with_vars("!!float x"),
    "int_tag.yaml": _with_vars("!!int x"),
    "list_key.yaml": "vars:\n  [1, 2]: 3\n",
    "mapping_key.yaml": "vars:\n  ? {a: 1}\n  : 3\n",
    "huge_int.yaml": _with_vars("9" * 5000),
    "python_tag.yaml": "vars: !!python/object/apply:os.system [echo hi]\n",
    "custom_tag.yaml": _with_vars("!custom {a: 1}"),
    "deep.json": '{"vars": ' + "[" * 10_000 + "]" * 10_000 + "}",
}


@pytest.mark.parametrize(
    ("args", "first_line"),
    [
        pytest.param(
            ["latin1.yaml"],
            "latin1.yaml:2:6: the file is not UTF-8 text: byte 0xe9 cannot be decoded (save it as UTF-8)",
            id="latin-1",
        ),
        pytest.param(
            ["stray_byte.yaml"],
            "stray_byte.yaml:2:12: the file is not UTF-8 text: byte 0x80 cannot be decoded",
            id="stray-byte",
        ),
        pytest.param(
            ["broken_utf16.yaml"],
            "broken_utf16.yaml:1:4: the file is not UTF-16 text: byte 0x00 cannot be decoded",
            id="utf-16-with-a-lone-surrogate",
        ),
        pytest.param(
            ["folder.yaml"],
            "command line: 'folder.yaml' is not a run folder: it has no config.yaml",
            id="folder",  # a folder given as CONFIG is read as a run folder to resume
        ),
        pytest.param(
            ["loop.yaml"],
            "cannot read config file 'loop.yaml': too many levels of symbolic links",
            id="symlink-loop",
        ),
        pytest.param(
            ["deep_flow.yaml"],
            "deep_flow.yaml:1:1006: exceeded maximum nesting depth (while increasing flow level)",
            id="nesting-10000-levels",
        ),
        pytest.param(
            ["deep_block.yaml"],
            "deep_block.yaml:201:401 @ vars#k1#k2#k3#k4#k5#...: nesting deeper than 200 levels",
            id="nesting-400-levels",
        ),
        pytest.param(
            ["deep.json"],
            "deep.json @ vars#0#0#0#0#0#...: nesting deeper than 200 levels",
            id="json-10000-levels",
        ),
        pytest.param(
            ["recursive_alias.yaml"],
            "recursive_alias.yaml:1:11 @ vars#a: recursive alias: a value that contains itself",
            id="recursive-alias",
        ),
        pytest.param(
            ["float_tag.yaml"], "float_tag.yaml:2:6 @ vars#x: !!float needs a number, got 'x'", id="float-tag"
        ),
        pytest.param(
            ["int_tag.yaml"], "int_tag.yaml:2:6 @ vars#x: !!int needs an integer, got 'x'", id="int-tag"
        ),
        pytest.param(
            ["list_key.yaml"],
            "list_key.yaml:2:3 @ vars: a key must be a plain value (a string or a number), not a list",
            id="list-as-key",
        ),
        pytest.param(
            ["mapping_key.yaml"],
            "mapping_key.yaml:2:5 @ vars: a key must be a plain value (a string or a number), not a mapping",
            id="mapping-as-key",
        ),
        pytest.param(
            ["huge_int.yaml"],
            "huge_int.yaml:2:6 @ vars#x: an integer of 5,000 digits is longer than Python reads (4,300 digits)",
            id="5000-digit-integer",
        ),
        pytest.param(
            ["python_tag.yaml"],
            f"python_tag.yaml:1:7 @ vars: unsupported tag '!!python/object/apply:os.system' {_CORE_TAGS}",
            id="python-tag",
        ),
        pytest.param(
            ["custom_tag.yaml"],
            f"custom_tag.yaml:2:6 @ vars#x: unsupported tag '!custom' {_CORE_TAGS}",
            id="custom-tag",
        ),
        pytest.param(
            ["experiment.yaml", "--trainer#max_epochs==1"],
            "command line @ trainer#max_epochs: bad value in override '--trainer#max_epochs==1': the value starts "
            "with '=' (did you mean --trainer#max_epochs=1?",
            id="double-equals",
        ),
        pytest.param(
            ["experiment.yaml", "--trainer.max_epochs=1"],
            "command line @ trainer.max_epochs: override creates a new key 'trainer.max_epochs'; ids join keys "
            "with '#', not '.' (did you mean 'trainer#max_epochs'?)",
            id="dotted-id",
        ),
        pytest.param(
            ["experiment.yaml", "--~system#optimizer=5"],
            "command line @ system#optimizer: '--~system#optimizer' deletes the key and takes no value, got '5'",
            id="delete-with-a-value",
        ),
        pytest.param(
            ["experiment.yaml", "--system#model#_target_=."],
            "command line @ system#model: _target_ '.' is not an import path "
            "(write names joined by dots, e.g. 'torch.nn.Linear')",
            id="target-dot",
        ),
        pytest.param(
            ["experiment.yaml", "--trainer#max_epochs", "1", "--~system#optimizer"],
            "experiment.yaml:14:1 @ system#optimizer: stage 'fit' needs system#optimizer, which the config does "
            "not define",
            id="space-separated-value-then-delete",
        ),
    ],
)
def test_bad_input_is_one_located_line(experiment, lighter, args, first_line):
    for name, content in BAD_FILES.items():
        path = experiment / name
        if not path.exists():
            path.write_bytes(content if isinstance(content, bytes) else content.encode())
    (experiment / "folder.yaml").mkdir(exist_ok=True)
    if not (experiment / "loop.yaml").is_symlink():
        (experiment / "loop.yaml").symlink_to("loop2.yaml")
        (experiment / "loop2.yaml").symlink_to("loop.yaml")
    result = lighter("fit", *args, cwd=experiment)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith(first_line), result.stderr
    assert lines[-1] == HINT
    assert "Traceback" not in result.stderr
    assert len(lines) <= 32


def test_a_config_with_a_byte_order_mark_is_read(experiment, lighter):
    text = "trainr: {}\n" + (experiment / "experiment.yaml").read_text()
    (experiment / "utf16.yaml").write_bytes(text.encode("utf-16"))
    result = lighter("fit", "utf16.yaml", cwd=experiment)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "utf16.yaml:1:1 @ trainr: unknown top-level key 'trainr' (did you mean 'trainer'?)"
    )


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_config(experiment, lighter):
    path = experiment / "secret.yaml"
    path.write_text("seed: 1\n")
    path.chmod(0)
    result = lighter("fit", "secret.yaml", cwd=experiment)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == "cannot read config file 'secret.yaml': permission denied"


def test_alias_bomb_fails_fast_with_flat_memory(experiment):
    (experiment / "bomb.yaml").write_text(_alias_bomb())
    # A fresh parent whose only child is the command, so the peak is the command's own; the child
    # may address 1 GiB at most, so that a regression fails instead of eating the machine (6 GB).
    probe = (
        "import resource, subprocess, sys\n"
        "limit = lambda: resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))\n"
        "done = subprocess.run([sys.executable, '-m', 'lighter', 'fit', 'bomb.yaml'], capture_output=True,\n"
        "                      text=True, preexec_fn=limit)\n"
        "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "print(done.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "LIGHTER_DEBUG"}
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=experiment, env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    status, peak_kib = out[0].split()
    assert status == "1"
    assert (
        out[1] == "bomb.yaml:1:24 @ a4#7#8#9#0#2: aliases expand to more than 100,000 values (an alias bomb?)"
    )
    assert int(peak_kib) < 200 * 1024  # ru_maxrss is in KiB on Linux


def _imports_and_errors(folder: Path, *args: str) -> tuple[str, set[str]]:
    """Run the command with ``-X importtime``: its error lines and the modules it imported."""
    env = {k: v for k, v in os.environ.items() if k not in ("LIGHTER_DEBUG", "PL_GLOBAL_SEED")}
    env["PYTHONWARNINGS"] = "ignore"
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "lighter", "fit", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    errors = "\n".join(line for line in result.stderr.splitlines() if not line.startswith("import time:"))
    return errors, modules


@pytest.mark.parametrize(
    ("overrides", "first_line"),
    [
        pytest.param(
            ["--trainer#fast_dev_run=true", "--sytem#x=1"],
            "command line @ sytem: override creates a new key 'sytem' next to the existing 'system' "
            "(did you mean 'system'?)",
            id="typo-after-a-new-trainer-key",
        ),
        pytest.param(
            ["--trainer#fast_dev_run", "true", "--system#optimizer#lr=@vars#lr"],
            "command line @ system#optimizer#lr: reference '@vars#lr' does not exist",
            id="missing-reference",
        ),
        pytest.param(
            ["--trainer#fast_dev_run=true", "--system#optimizer#lr=$0.1 *"],
            "command line @ system#optimizer#lr: expression '$0.1 *' failed: SyntaxError: invalid syntax",
            id="expression-syntax",
        ),
        pytest.param(
            ["--trainer#fast_dev_run=true", "--system#optimiser#lr=1"],
            "command line @ system#optimiser: unknown key 'optimiser' in system (did you mean 'optimizer'?)",
            id="unknown-key",
        ),
    ],
)
def test_mistakes_needing_no_import_are_reported_before_torch_loads(experiment, overrides, first_line):
    errors, modules = _imports_and_errors(experiment, "experiment.yaml", *overrides)
    assert errors.splitlines()[0].startswith(first_line), errors
    assert "torch" not in modules
    assert "pytorch_lightning" not in modules


def test_a_typo_whose_right_name_is_also_set(experiment, lighter):
    (experiment / "second.yaml").write_text("system:\n  model:\n    out_feature: 3\n")
    result = lighter("fit", "experiment.yaml,second.yaml", cwd=experiment)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "second.yaml:3 @ system#model: torch.nn.Linear got an unexpected argument 'out_feature' "
        "(did you mean 'out_features', which is already set at experiment.yaml:19?)"
    )


@pytest.mark.slow
def test_values_and_overrides_as_people_type_them(experiment, lighter):
    result = lighter(
        "fit",
        "experiment.yaml",
        "--system#optimizer#lr",
        "1e-3",  # YAML 1.1 read this as a string, and SGD refused it
        "--trainer#max_epochs=1",
        "--~trainer#callbacks",
        "--+system#metrics={val: [{_target_: torchmetrics.Accuracy, task: multiclass, num_classes: 2}]}",
        "--trainer#limit_train_batches",
        "2",
        "--=trainer#limit_val_batches=1",
        cwd=experiment,
    )
    assert result.returncode == 0, result.stderr
    assert "val/metrics/MulticlassAccuracy/epoch" in result.stdout  # `+` added the val metrics
    assert "`max_epochs=1` reached" in result.stderr
    assert "1 batch will be used" in result.stderr  # `=` set limit_val_batches
    assert not (experiment / "seeds").exists()  # `~` deleted the callback that writes them
