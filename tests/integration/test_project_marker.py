"""A config without a ``project`` key runs with the folder a ``__lighter__.py`` marks (upstream Lighter 0.1)."""

from __future__ import annotations

from conftest import EXPERIMENT, write_experiment


def marked_experiment(folder):
    write_experiment(folder)
    (folder / "project" / "__lighter__.py").write_text("")
    config = folder / "project" / "experiments" / "exp.yaml"
    config.parent.mkdir()
    config.write_text(EXPERIMENT.replace("project: project\n", ""))  # its paths are the cwd's
    return config


def test_fit_imports_the_marked_folder(tmp_path, lighter):
    marked_experiment(tmp_path)
    result = lighter("fit", "project/experiments/exp.yaml", "--trainer#max_epochs=1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "seeds" / "fit-rank0.json").is_file()  # project.callbacks.RecordSeed ran
    saved = (tmp_path / "runs" / "lightning_logs" / "version_0" / "config.yaml").read_text()
    assert f"project: {(tmp_path / 'project').resolve()}" in saved  # the run records what it imported


def test_check_in_safe_mode_lists_and_refuses_the_marked_folder(tmp_path, monkeypatch):
    from lighter.engine.check import check_config

    config = marked_experiment(tmp_path)
    monkeypatch.chdir(tmp_path)
    report = check_config(str(config), [], None, safe=True)
    folder = (tmp_path / "project").resolve()
    assert report.sites[0].text == str(folder)
    assert [str(p) for p in report.problems][0] == (
        f"{folder}/__lighter__.py @ project: safe mode refuses importing the project folder '{folder}' "
        "(marked by __lighter__.py; allow it with --allow project)"
    )
