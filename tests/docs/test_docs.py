"""The documentation: every YAML block parses, complete configs load and validate, runnable ones
run, each documented error message is the one lighter really prints, and the site builds strictly.

Blocks are found by the HTML comment just above them:

- ``<!-- runnable: STAGE -->``: a complete experiment, run with ``--trainer#fast_dev_run=true``;
- ``<!-- config -->``: a complete experiment, loaded and validated (not run);
- ``<!-- fragment -->``: part of a config, parsed as YAML only;
- ``<!-- error-base -->`` / ``<!-- error: STAGE -->`` / ``<!-- error-cli -->``: on the error page, a
  base experiment, a mistake merged over it (or a command line), then a ``text`` block with what
  lighter prints;
- ``<!-- file: PATH -->``: project code (e.g. ``my_project/__init__.py``) that the page's runnable
  examples and commands import; it is written at PATH beside them.

Every ``yaml`` block must carry one of these marks, so no example goes untested.
"""

from __future__ import annotations

import itertools
import logging
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from lighter.config import ConfigParser
from lighter.engine.runner import run
from lighter.engine.schema import validate_structure
from lighter.errors import LighterError

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
LIGHTER = Path(sys.executable).with_name("lighter")

_BLOCK = re.compile(
    r"(?:<!--\s*(?P<mark>[^>]*?)\s*-->\s*\n)?```(?P<lang>\w*)\n(?P<body>.*?)^```", re.S | re.M
)


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    mark: str
    lang: str
    body: str

    @property
    def name(self) -> str:
        return f"{self.page}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """Fenced code blocks of ``page`` with the mark above each (``""`` when none)."""
    text = page.read_text()
    found = []
    for match in _BLOCK.finditer(text):
        line = text.count("\n", 0, match.start("body"))  # the fence's line, 1-based
        found.append(Block(page.name, line, match["mark"] or "", match["lang"], match["body"]))
    return found


PAGES = sorted(p for p in DOCS.glob("*.md") if not p.name.startswith("_"))
ALL = [b for page in PAGES for b in blocks(page)]
YAML_BLOCKS = [b for b in ALL if b.lang == "yaml"]
MARKS = ("runnable:", "config", "fragment", "error-base", "error:")


def params(selected: list[Block]) -> list:
    return [pytest.param(b, id=b.name) for b in selected]


def test_docs_have_examples():
    assert len(PAGES) >= 12 and len(YAML_BLOCKS) >= 30


@pytest.mark.parametrize("block", params(YAML_BLOCKS))
def test_yaml_block_is_marked_and_parses(block):
    assert block.mark.startswith(MARKS), f"{block.name}: mark the block with one of {MARKS}"
    if block.mark == "error: fit" and "[1\n" in block.body:
        pytest.skip("the error page's YAML syntax error does not parse, on purpose")
    assert isinstance(yaml.safe_load(block.body), dict)


COMPLETE = [b for b in YAML_BLOCKS if b.mark.startswith(("runnable:", "config", "error-base"))]


@pytest.mark.parametrize("block", params(COMPLETE))
def test_complete_config_loads_and_validates(block, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # `project:` paths in the docs are relative to the repository root
    path = tmp_path / "experiment.yaml"
    path.write_text(block.body)
    parser = ConfigParser()
    parser.read_config(str(path))
    validate_structure(parser.config, parser.location)


RUNNABLE = [b for b in YAML_BLOCKS if b.mark.startswith("runnable:")]
FIRST = next(b for b in RUNNABLE if b.page == "index.md")  # run by the real command, below
FAST = ["--trainer#fast_dev_run=true", "--trainer#enable_progress_bar=false"]


def page_files(page: str) -> dict[str, str]:
    """The ``<!-- file: PATH -->`` blocks of ``page``, by path."""
    return {
        b.mark.split(":", 1)[1].strip(): b.body for b in ALL if b.page == page and b.mark.startswith("file:")
    }


def write_files(folder: Path, files: dict[str, str]) -> None:
    for name, body in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(body)


@pytest.mark.slow
@pytest.mark.parametrize("block", params([b for b in RUNNABLE if b is not FIRST]))
def test_runnable_example_runs(block, tmp_path, monkeypatch):
    """In-process through the runner the CLI calls (one torch import for all examples)."""
    monkeypatch.chdir(tmp_path)
    write_files(tmp_path, page_files(block.page))
    Path("experiment.yaml").write_text(block.body)
    stage = block.mark.split(":", 1)[1].strip()
    run(stage, "experiment.yaml", FAST)
    for writer in yaml.safe_load(block.body)["trainer"].get("callbacks", []):
        if writer["_target_"].endswith(("FileWriter", "TableWriter")):
            assert Path(writer["path"]).exists(), f"{block.name}: the writer wrote nothing"


@pytest.mark.slow
def test_first_example_runs_with_the_lighter_command(tmp_path):
    """The get-started example, exactly as a newcomer runs it."""
    (tmp_path / "experiment.yaml").write_text(FIRST.body)
    result = subprocess.run(
        [str(LIGHTER), "fit", "experiment.yaml", *FAST],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


# --- the error page -----------------------------------------------------------------------------


def error_cases() -> list:
    page = [b for b in ALL if b.page == "errors.md"]
    base = next(b for b in page if b.mark == "error-base")
    cases = []
    for block, shown in itertools.pairwise(page):
        if block.mark.startswith("error:") or block.mark == "error-cli":
            assert shown.lang == "text", f"{block.name}: an error example needs a text block after it"
            cases.append(pytest.param(base.body, block, shown.body, id=block.name))
    return cases


def produce_error(base: str, block: Block, folder: Path) -> str:
    """Run the documented mistake in ``folder`` and return what lighter reports."""
    (folder / "experiment.yaml").write_text(base)
    if block.mark == "error-cli":
        argv = shlex.split(block.body)
        assert argv[0] == "lighter"
        stage, config, overrides = argv[1], argv[2], argv[3:]
    else:
        (folder / "mistake.yaml").write_text(block.body)
        stage, config, overrides = block.mark.split(":", 1)[1].strip(), "experiment.yaml,mistake.yaml", []
    logging.disable(logging.INFO)  # Lightning's banners are not part of the message
    try:
        run(stage, config, overrides)
    except LighterError as error:
        return str(error)
    finally:
        logging.disable(logging.NOTSET)
    raise AssertionError(f"{block.name}: the documented mistake raised no LighterError")


@pytest.mark.parametrize(("base", "block", "shown"), error_cases())
def test_documented_error_is_what_lighter_prints(base, block, shown, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # Messages that name an absolute folder show it as /home/me/experiments in the docs.
    message = produce_error(base, block, tmp_path).replace(str(tmp_path), "/home/me/experiments")
    expected = shown.rstrip("\n").removesuffix("(run with --debug for the full traceback)").rstrip("\n")
    assert message == expected


# --- commands shown with their output (show_and_check.md) ----------------------------------------


def command_cases() -> list:
    """``<!-- command -->`` bash blocks, each followed by the text lighter prints, with the files
    the page names (``<!-- config: NAME -->`` / ``<!-- fragment: NAME -->`` blocks)."""
    cases = []
    for page in PAGES:
        found = blocks(page)
        files = {
            b.mark.split(":", 1)[1].strip(): b.body
            for b in found
            if re.match(r"(config|fragment|file): \S", b.mark)
        }
        for block, shown in itertools.pairwise(found):
            if block.mark == "command":
                assert shown.lang == "text", f"{block.name}: a command needs a text block after it"
                cases.append(pytest.param(files, block.body.strip(), shown.body, id=block.name))
    return cases


@pytest.mark.parametrize(("files", "command", "shown"), command_cases())
def test_documented_command_prints_what_is_shown(files, command, shown, tmp_path):
    write_files(tmp_path, files)
    argv = shlex.split(command)
    assert argv[0] == "lighter"
    result = subprocess.run(
        [str(LIGHTER), *argv[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    last = shown.splitlines()[-1]  # a failing command ends with its problem count, or the --debug hint
    failed = "problem" in last or last == "(run with --debug for the full traceback)"
    assert result.returncode == (1 if failed else 0), result.stderr[-2000:]
    assert result.stdout + result.stderr == shown


# --- the site -------------------------------------------------------------------------------------


def test_every_page_is_in_the_nav():
    nav = (ROOT / "mkdocs.yml").read_text()
    assert all(f": {page.name}" in nav for page in PAGES)


def test_mkdocs_builds_strictly(tmp_path):
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("mkdocs")),
            "build",
            "--strict",
            "--site-dir",
            str(tmp_path / "site"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "site" / "index.html").is_file()
