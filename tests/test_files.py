"""Atomic writes: the file appears whole or not at all."""
import pytest

from vaebook.files import atomic_path


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
