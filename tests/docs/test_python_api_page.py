"""``docs/python_api.md``: its Python examples run as written, on the page's own experiment."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "python_api.md"
_BLOCK = re.compile(r"```(?P<lang>\w*)\n(?P<body>.*?)^```", re.S | re.M)


def page_blocks(lang: str) -> list[str]:
    return [m["body"] for m in _BLOCK.finditer(PAGE.read_text()) if m["lang"] == lang]


def test_the_page_has_its_experiment_and_examples():
    assert len(page_blocks("yaml")) == 1 and len(page_blocks("python")) >= 2


@pytest.mark.slow
def test_python_examples_run_in_order(tmp_path, monkeypatch, capsys):
    """One namespace for the whole page, as a notebook would run it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["notebook"])
    (tmp_path / "experiment.yaml").write_text(page_blocks("yaml")[0])
    namespace: dict = {}
    for block in page_blocks("python"):
        exec(compile(block, str(PAGE), "exec"), namespace)  # noqa: S102 - the page's own code
    out = capsys.readouterr().out
    assert re.search(r"^train loss \d\.\d{3}$", out, re.M)
    assert (tmp_path / "outputs" / "runs" / "version_0" / "config.yaml").is_file()
    assert len(list((tmp_path / "outputs" / "runs").iterdir())) == 1  # fit and test: one run folder
