"""The one atomic-write helper every lighter output goes through."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from lighter.atomic import TEMP_PREFIX, atomic_open, atomic_write, os_reason


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize(
    ("data", "read"),
    [
        pytest.param("a: 1\n", lambda p: p.read_text(), id="text"),
        pytest.param(b"\x00\x01", lambda p: p.read_bytes(), id="bytes"),
    ],
)
def test_writes_whole_file_with_umask_permissions(tmp_path, data, read):
    old = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "out", data)
    finally:
        os.umask(old)
    assert read(path) == data
    assert _mode(path) == 0o644  # not mkstemp's 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_callable_writes_to_the_handle(tmp_path):
    atomic_write(tmp_path / "t.csv", lambda handle: handle.write("x,y\n"))
    assert (tmp_path / "t.csv").read_text() == "x,y\n"


def test_failure_keeps_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_open(path) as handle:
        handle.write("half")
        raise RuntimeError("disk went away")
    assert path.read_text() == "old\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_destination_that_is_a_folder_fails_cleanly(tmp_path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(OSError):
        atomic_write(tmp_path / "taken", "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        pytest.param(
            OSError(errno.ENOSPC, "No space left on device"), "no space left on device", id="enospc"
        ),
        pytest.param(OSError(errno.EFBIG, "File too large"), "file too large", id="efbig"),
        pytest.param(PermissionError(errno.EACCES, "Permission denied"), "permission denied", id="eacces"),
        pytest.param(ValueError("bad"), "ValueError: bad", id="not-os"),
    ],
)
def test_os_reason(error, reason):
    assert os_reason(error) == reason
