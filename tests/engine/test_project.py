"""Importing the user's project folder as the module ``project``."""

from __future__ import annotations

import multiprocessing
import sys

import pytest

from lighter.engine.project import find_project, import_project
from lighter.errors import ConfigError, Location


@pytest.fixture
def clean_modules():
    saved = {n: m for n, m in sys.modules.items() if n == "project" or n.startswith("project.")}
    path = list(sys.path)
    yield
    for name in [n for n in sys.modules if n == "project" or n.startswith("project.")]:
        del sys.modules[name]
    sys.modules.update(saved)
    sys.path[:] = path


def make_project(folder, value):
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("from project.models import VALUE\n")
    (folder / "models.py").write_text(f"VALUE = {value!r}\n")
    return folder


def test_relative_path_from_the_working_directory(tmp_path, monkeypatch):
    make_project(tmp_path / "cwd" / "proj", "cwd")
    (tmp_path / "cfg").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    assert find_project("proj", [tmp_path / "cfg" / "exp.yaml"]) == (tmp_path / "cwd" / "proj").resolve()


def test_two_different_packages_are_an_error(tmp_path, monkeypatch):
    """From projects/segmentation/metrics, the digits config's `project: ../` names both projects."""
    make_project(tmp_path / "segmentation", "segmentation")
    (tmp_path / "segmentation" / "metrics").mkdir()
    make_project(tmp_path / "digits", "digits")
    (tmp_path / "digits" / "experiments").mkdir()
    monkeypatch.chdir(tmp_path / "segmentation" / "metrics")
    config = "../../digits/experiments/digits.yaml"
    with pytest.raises(ConfigError) as info:
        find_project("../", [config], location=Location(config, 11))
    assert str(info.value) == (
        f"{config}:11 @ project: project folder '../' names two different packages: "
        f"{tmp_path / 'segmentation'} (from the working directory) and {tmp_path / 'digits'} "
        f"(from the folder of {config}) (give an absolute path, e.g. --project={tmp_path / 'digits'}, "
        f"or run from {tmp_path / 'digits' / 'experiments'})"
    )


def test_one_package_named_two_ways_is_no_ambiguity(tmp_path, monkeypatch):
    make_project(tmp_path / "proj", "cfg")
    monkeypatch.chdir(tmp_path)
    assert find_project("proj", ["exp.yaml"]) == (tmp_path / "proj").resolve()


def test_relative_path_falls_back_to_config_folder(tmp_path, monkeypatch):
    make_project(tmp_path / "cfg" / "proj", "cfg")
    monkeypatch.chdir(tmp_path)
    assert find_project("proj", [tmp_path / "cfg" / "exp.yaml"]) == (tmp_path / "cfg" / "proj").resolve()


def test_working_directory_folder_without_init_falls_back_to_config_folder(tmp_path, monkeypatch):
    # `project: ../` from the repository root: the cwd candidate exists but is no package.
    make_project(tmp_path / "repo" / "proj", "cfg")
    (tmp_path / "repo" / "proj" / "experiments").mkdir()
    monkeypatch.chdir(tmp_path / "repo")
    config = tmp_path / "repo" / "proj" / "experiments" / "exp.yaml"
    assert find_project("../", [config]) == (tmp_path / "repo" / "proj").resolve()


def test_parent_path_from_the_config_folder(tmp_path, monkeypatch):
    make_project(tmp_path / "proj", "cfg")
    (tmp_path / "proj" / "experiments").mkdir()
    monkeypatch.chdir(tmp_path / "proj" / "experiments")
    assert find_project("../", ["exp.yaml"]) == (tmp_path / "proj").resolve()


def test_import_registers_module_and_submodules(tmp_path, clean_modules):
    module = import_project(make_project(tmp_path / "proj", "first"))
    assert sys.modules["project"] is module
    assert module.VALUE == "first"
    from project.models import VALUE  # noqa: PLC0415 - the point is that the import works

    assert VALUE == "first"


def test_second_project_replaces_the_first(tmp_path, clean_modules):
    import_project(make_project(tmp_path / "a" / "proj", "a"))
    module = import_project(make_project(tmp_path / "b" / "proj", "b"))
    assert module.VALUE == "b"
    assert sys.modules["project.models"].VALUE == "b"


def test_spawned_process_unpickles_project_objects(tmp_path, clean_modules):
    """A pickled `project` object reaches a process started with "spawn", which imports `project` anew."""
    folder = make_project(tmp_path / "not_named_project", "spawned")
    (folder / "models.py").write_text(
        "VALUE = 'spawned'\n\nclass Thing:\n    def __repr__(self):\n        return 'Thing from ' + VALUE\n"
    )
    module = import_project(folder)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        # repr runs in the child, on the Thing it unpickled there
        # (a child that cannot unpickle the task never answers: time out rather than hang)
        assert pool.apply_async(repr, (module.models.Thing(),)).get(timeout=120) == "Thing from spawned"


def test_missing_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        find_project("nope", [tmp_path / "c" / "exp.yaml"], location=Location("exp.yaml", 4))
    assert str(info.value) == (
        f"exp.yaml:4 @ project: project folder 'nope' does not exist "
        f"(looked in {tmp_path / 'nope'}, {tmp_path / 'c' / 'nope'})"
    )


@pytest.mark.parametrize(
    ("folders", "tried"),
    [
        pytest.param(["proj"], "{cwd} has no __init__.py; {cfg} does not exist", id="only-cwd-exists"),
        pytest.param(
            ["c/proj"], "{cwd} does not exist; {cfg} has no __init__.py", id="only-config-folder-exists"
        ),
        pytest.param(
            ["proj", "c/proj"], "{cwd} has no __init__.py; {cfg} has no __init__.py", id="both-exist"
        ),
    ],
)
def test_folder_without_init(tmp_path, monkeypatch, folders, tried):
    for folder in folders:
        (tmp_path / folder).mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        find_project("proj", [tmp_path / "c" / "exp.yaml"], location=Location("exp.yaml", 4))
    tried = tried.format(cwd=tmp_path / "proj", cfg=tmp_path / "c" / "proj")
    create = tmp_path / folders[0] / "__init__.py"
    assert str(info.value) == (
        f"exp.yaml:4 @ project: project folder 'proj' is not a Python package: {tried} "
        f"(create {create}, it may be empty)"
    )


def test_failing_import_is_located_and_chained(tmp_path, clean_modules):
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "__init__.py").write_text("raise RuntimeError('boom')\n")
    with pytest.raises(ConfigError) as info:
        import_project(folder, location=Location("exp.yaml", 4))
    assert (
        str(info.value)
        == f"exp.yaml:4 @ project: importing project folder '{folder}' failed: RuntimeError: boom"
    )
    assert isinstance(info.value.__cause__, RuntimeError)
    assert "project" not in sys.modules


# --- a folder marked by __lighter__.py (upstream Lighter 0.1's habit) -----------------------------


def marked(folder, value="marked"):
    make_project(folder, value)
    (folder / "__lighter__.py").write_text("# marks this folder as the project\n")
    (folder / "experiments").mkdir()
    return folder / "experiments" / "exp.yaml"


def parser_for(config, text="trainer: {}\n"):
    from lighter.config import ConfigParser

    config.write_text(text)
    parser = ConfigParser()
    parser.read_config(config)
    return parser


@pytest.mark.parametrize("where", ["config-folder", "above-the-config", "working-directory"])
def test_a_marker_names_the_project(tmp_path, monkeypatch, clean_modules, where):
    from lighter.engine.project import import_configured_project

    config = marked(tmp_path / "proj")
    if where == "config-folder":
        (tmp_path / "proj" / "__lighter__.py").rename(config.parent / "__lighter__.py")
        (config.parent / "__init__.py").write_text("from project.models import VALUE\n")
        (config.parent / "models.py").write_text("VALUE = 'experiments'\n")
    if where == "working-directory":
        elsewhere = tmp_path / "configs"
        elsewhere.mkdir()
        config = elsewhere / "exp.yaml"
    monkeypatch.chdir(tmp_path / "proj")
    folder = import_configured_project(parser_for(config))
    expected = config.parent if where == "config-folder" else tmp_path / "proj"
    assert folder == expected.resolve()
    assert sys.modules["project"].VALUE == ("experiments" if where == "config-folder" else "marked")


def test_no_key_and_no_marker_is_no_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert find_project(None, [tmp_path / "exp.yaml"]) is None


def test_a_key_naming_the_marked_folder_agrees(tmp_path, monkeypatch):
    config = marked(tmp_path / "proj")
    monkeypatch.chdir(tmp_path)
    assert find_project("..", [config]) == (tmp_path / "proj").resolve()


def test_a_key_and_a_marker_that_disagree_name_both(tmp_path, monkeypatch):
    config = marked(tmp_path / "proj")
    make_project(tmp_path / "other", "other")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        find_project("other", [config], location=Location(str(config), 1))
    marker = (tmp_path / "proj").resolve()
    assert str(info.value) == (
        f"{config}:1 @ project: project folder 'other' is {(tmp_path / 'other').resolve()}, but "
        f"{marker / '__lighter__.py'} marks {marker} as the project (remove one: the project key, or "
        f"the marker {marker / '__lighter__.py'})"
    )


@pytest.mark.parametrize(
    ("broken", "text", "expected"),
    [
        pytest.param(
            "__init__.py",
            "x = (\n",
            "{folder}/__init__.py:1:5: importing project folder '{folder}' failed: SyntaxError: ",
            id="init-does-not-compile",
        ),
        pytest.param(
            "__lighter__.py",
            "def (:\n",
            "{folder}/__lighter__.py:1:5: the project marker does not compile: SyntaxError: invalid syntax",
            id="marker-does-not-compile",
        ),
        pytest.param(
            "__init__.py",
            None,
            "{folder}/__lighter__.py: {folder}/__lighter__.py marks {folder} as the project folder, but it "
            "has no __init__.py (create {folder}/__init__.py, it may be empty)",
            id="no-init",
        ),
        pytest.param(
            "__init__.py",
            "raise RuntimeError('no GPU here')\n",
            "{folder}/__lighter__.py: importing project folder '{folder}' failed: RuntimeError: no GPU here",
            id="init-raises",
        ),
    ],
)
def test_a_marked_folder_that_cannot_be_imported(
    tmp_path, monkeypatch, clean_modules, broken, text, expected
):
    from lighter.engine.project import import_configured_project

    config = marked(tmp_path / "proj")
    if text is None:
        (tmp_path / "proj" / broken).unlink()
    else:
        (tmp_path / "proj" / broken).write_text(text)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        import_configured_project(parser_for(config))
    assert str(info.value).startswith(expected.format(folder=(tmp_path / "proj").resolve()))


def test_safe_mode_refuses_a_marked_folder_unless_allowed(tmp_path, monkeypatch, clean_modules):
    from lighter.engine.project import import_configured_project
    from lighter.errors import UnsafeConfigError

    config = marked(tmp_path / "proj")
    monkeypatch.chdir(tmp_path)
    parser = parser_for(config)
    parser.safe = True
    with pytest.raises(
        UnsafeConfigError, match=r"safe mode refuses importing the project folder .* \(marked by"
    ):
        import_configured_project(parser)
    assert "project" not in sys.modules or sys.modules["project"].__file__ != str(
        tmp_path / "proj" / "__init__.py"
    )
    parser.allow = ("project",)
    assert import_configured_project(parser) == (tmp_path / "proj").resolve()
