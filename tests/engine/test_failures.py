"""Turning a failed write into one located OutputError, and naming the part that raised."""

from __future__ import annotations

import errno
import os

import pytest

from lighter.engine.failures import output_error, user_code_error
from lighter.errors import Location, OutputError, blame

CONFIG = {
    "trainer": {"default_root_dir": "runs", "callbacks": [{"dirpath": "runs/ckpts"}]},
    "args": {"fit": {}},
}


def _error(number: int, filename: str) -> OSError:
    return OSError(number, os.strerror(number), filename)


@pytest.mark.parametrize(
    ("number", "filename", "message", "config_id"),
    [
        pytest.param(
            errno.EACCES,
            "runs/lightning_logs",
            "cannot write 'runs/lightning_logs': permission denied",
            "trainer#default_root_dir",
            id="permission",
        ),
        pytest.param(
            errno.ENOSPC,
            "runs/ckpts/last.ckpt",
            "cannot write 'runs/ckpts/last.ckpt': no space left on device",
            "trainer#callbacks#0#dirpath",
            id="disk-full-deepest-id",
        ),
        pytest.param(
            errno.EROFS,
            "/elsewhere/out.csv",
            "cannot write '/elsewhere/out.csv': read-only file system",
            None,
            id="no-config-value",
        ),
    ],
)
def test_write_faults_become_one_output_error(tmp_path, monkeypatch, number, filename, message, config_id):
    monkeypatch.chdir(tmp_path)
    found = output_error(_error(number, filename), "fit, epoch 1, step 9", CONFIG)
    assert isinstance(found, OutputError)
    assert found.message == f"during fit, epoch 1, step 9: {message}"
    assert found.id == config_id


def test_a_file_in_the_way_is_named_itself(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").write_text("")
    found = output_error(_error(errno.ENOTDIR, "runs/lightning_logs/version_0"), None, CONFIG)
    assert found.message == "cannot write 'runs': a file is in the way where a folder belongs"


def test_reading_errors_are_not_output_errors():
    assert output_error(_error(errno.ENOENT, "data/x.png"), None, CONFIG) is None


def test_user_code_error_names_the_blamed_part_and_its_location():
    error = RuntimeError("shapes differ\nsecond line")
    blame(error, "system#criterion")
    blame(error, "system#model")  # the innermost part to mark it wins
    located = user_code_error(error, "fit, epoch 0, step 0", "train", lambda id_: Location("exp.yaml", 31))
    assert (
        str(located)
        == "exp.yaml:31 @ system#criterion: during fit, epoch 0, step 0: RuntimeError: shapes differ"
    )
