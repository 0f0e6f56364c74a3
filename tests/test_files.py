import os
from pathlib import Path

import pytest

from jaxhw import files
from jaxhw.files import write_atomic


def test_write_atomic_replaces_whole_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "a.json"
    target.write_bytes(b"old")
    assert write_atomic(target, b"new contents") == target
    assert target.read_bytes() == b"new contents"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "a.json"
    target.write_bytes(b"old")
    with pytest.raises(TypeError):
        write_atomic(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_temporary_names_are_unique_and_carry_the_pid():
    a, b = files.temporary_path("/x/a.json"), files.temporary_path("/x/a.json")
    assert a != b and a.parent == Path("/x")
    assert a.name.startswith(f".a.json.tmp-{os.getpid()}-")


def test_file_lock_names_its_holder_and_shares_reads(tmp_path):
    path = tmp_path / "lock"
    with files.file_lock(path, wait=False, holder="pid 7 on host h"):
        with pytest.raises(files.LockBusy, match="held by pid 7 on host h") as busy:
            with files.file_lock(path, wait=False):
                pass
        assert busy.value.holder == "pid 7 on host h"
        with pytest.raises(files.LockBusy):
            with files.file_lock(path, shared=True, wait=False):
                pass
    assert path.read_text() == ""  # the holder's name goes with it
    with files.file_lock(path, shared=True), files.file_lock(path, shared=True, wait=False):
        with pytest.raises(files.LockBusy, match="another process, just starting") as busy:
            with files.file_lock(path, wait=False):
                pass
        assert busy.value.holder is None
    with files.file_lock(path, wait=False):
        pass
