"""Safe mode through the real ``lighter`` command, on the examples of docs/safe_mode.md."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "safe_mode.md"


def _page_blocks() -> tuple[str, str, str]:
    """The refused config, what lighter prints for it, and the config that passes."""
    text = PAGE.read_text()
    unsafe, safe = re.findall(r"```yaml\n(.*?)^```", text, re.S | re.M)
    printed = re.findall(r"```text\n(.*?)^```", text, re.S | re.M)[0]
    return unsafe, printed, safe


@pytest.fixture
def folder(tmp_path):
    unsafe, _, safe = _page_blocks()
    (tmp_path / "downloaded.yaml").write_text(unsafe)
    (tmp_path / "safe.yaml").write_text(safe)
    return tmp_path


def _lighter(*args: str, cwd: Path, **environ: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIGHTER_")}
    env.update(environ, PYTHONWARNINGS="ignore")
    return subprocess.run(
        [sys.executable, "-m", "lighter", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
    )


def test_the_documented_refusal_is_what_lighter_prints(folder):
    result = _lighter("fit", "downloaded.yaml", "--safe", cwd=folder)
    assert result.returncode == 1
    assert result.stderr == _page_blocks()[1]
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["downloaded.yaml", "safe.yaml"]  # nothing ran


def test_environment_turns_safe_mode_on_and_overrides_are_checked_too(folder):
    result = _lighter(
        "validate",
        "safe.yaml",
        "--system#model#in_features=$__import__('os').cpu_count()",
        cwd=folder,
        LIGHTER_SAFE="1",
        LIGHTER_ALLOW="project",
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "command line @ system#model#in_features: safe mode refuses the name '__import__' in an expression "
        "(only references, lambda parameters, torch, monai and allowed imports): $__import__('os').cpu_count()"
    )
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_the_documented_safe_config_runs_in_safe_mode(folder):
    result = _lighter("fit", "safe.yaml", "--safe", "--trainer#enable_progress_bar=false", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert "train/loss/epoch" in result.stdout
