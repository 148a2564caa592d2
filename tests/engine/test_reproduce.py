"""Seeds and the recorded config: pure parts of reproducibility."""

from __future__ import annotations

import copy

import pytest

from lighter.engine.reproduce import SEED_ENV, choose_seed, recorded_config, shared_seed


@pytest.mark.parametrize(
    ("configured", "environ", "expected"),
    [
        pytest.param(7, {SEED_ENV: "99"}, 7, id="config-wins"),
        pytest.param(None, {SEED_ENV: "99"}, 99, id="inherited-from-parent-process"),
        pytest.param(0, {}, 0, id="zero-is-a-seed"),
    ],
)
def test_choose_seed(configured, environ, expected):
    assert choose_seed(configured, environ) == expected


def test_drawn_seeds_differ_and_fit_32_bits():
    drawn = {choose_seed(None, {}) for _ in range(20)}
    assert len(drawn) > 1
    assert all(0 <= seed < 2**31 for seed in drawn)


def test_shared_seed_reaches_children_and_is_restored():
    environ = {"OTHER": "1"}
    with shared_seed(1234, environ):
        assert choose_seed(None, environ) == 1234  # what a child process launched here would see
    assert environ == {"OTHER": "1"}
    environ[SEED_ENV] = "5"
    with shared_seed(6, environ):
        assert environ[SEED_ENV] == "6"
    assert environ[SEED_ENV] == "5"


def test_recorded_config_is_a_copy_with_the_seed():
    config = {"trainer": {"max_epochs": 1}, "system": {"model": {"_target_": "x"}}}
    before = copy.deepcopy(config)
    recorded = recorded_config(config, 42)
    assert recorded == {**before, "seed": 42}
    recorded["trainer"]["max_epochs"] = 5
    assert config == before


def test_saved_config_says_where_each_value_came_from(tmp_path):
    import yaml

    from lighter.config import ConfigParser
    from lighter.engine.reproduce import config_text, recorded_config, save_config

    (tmp_path / "exp.yaml").write_text("vars:\n  lr: 1.0e-3\n  name: digits\n")
    parser = ConfigParser()
    parser.read_config(str(tmp_path / "exp.yaml"))
    parser.apply_overrides(["--vars#lr=0.1"])
    record = recorded_config(parser.config, seed=7)

    path = save_config(tmp_path / "run", record, config_text(record, parser.location))

    text = path.read_text()
    assert "  lr: 0.1  # command line\n" in text
    assert f"  name: digits  # {tmp_path / 'exp.yaml'}:3\n" in text
    assert yaml.safe_load(text) == record  # the comments change nothing a loader sees
