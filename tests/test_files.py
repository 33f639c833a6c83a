"""Atomic writes: the file appears whole or not at all, with the user's permissions; a failed write is named."""
import errno
import os
import stat
from pathlib import Path

import pytest

from vaebook.files import WriteError, atomic_path, read_json, write_atomic


def test_success_renames_and_failure_leaves_nothing(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("whole")
        assert not target.exists()  # nobody sees it before the block ends
    assert target.read_text() == "whole"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "whole"  # the old file survives an interrupted rewrite
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.txt"]


def test_files_get_the_users_umask_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "shared.txt") as tmp:
            tmp.write_text("x")
        write_atomic(tmp_path / "also.bin", b"x")
        os.umask(0o077)
        write_atomic(tmp_path / "private.bin", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "shared.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "also.bin").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "private.bin").stat().st_mode) == 0o600


def test_a_full_disk_names_the_file_the_cause_and_the_size(tmp_path, monkeypatch):
    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(WriteError, match=r"could not write the model .*m\.pt: no space left on device: 1\.6 MB "
                                         r"needed, .* MB free in .*\. Free some space"):
        write_atomic(tmp_path / "m.pt", b"0" * 1_600_000, what="model", fix="Free some space")
    assert list(tmp_path.iterdir()) == []  # no .part left behind


def test_read_json_says_what_is_wrong(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(ValueError, match="nested too deeply"):
        read_json(deep)
    (tmp_path / "bad.json").write_bytes(b"\xff\xfe{")
    with pytest.raises(ValueError):
        read_json(tmp_path / "bad.json")
    (tmp_path / "ok.json").write_text('{"a": [1]}')
    assert read_json(tmp_path / "ok.json") == {"a": [1]}
