import os

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


def test_abandoned_temporaries_survive_pids_no_process_can_have(tmp_path):
    # Before: a name with a huge pid-like suffix raised OverflowError (os.kill), which broke
    # checkpoint cleanup; pid 0 was taken for a live writer (os.kill(0, 0) signals the group).
    host = files._host()
    huge = tmp_path / f".a.npz.tmp-{10**20}-0123abcd-{host}"
    zero = tmp_path / ".b.npz.tmp-0"
    mine = tmp_path / f".c.npz.tmp-{os.getpid()}-0123abcd-{host}"
    elsewhere = tmp_path / f".d.npz.tmp-{10**20}-0123abcd-another-host"
    for path in (huge, zero, mine, elsewhere):
        path.write_bytes(b"")
    assert files.abandoned_temporaries(tmp_path) == sorted([huge, zero])


def test_file_lock_names_its_holder_and_shares_reads(tmp_path):
    path = tmp_path / "lock"
    with files.file_lock(path, wait=False, holder="pid 7 on host h"):
        with pytest.raises(files.LockBusy, match="held by pid 7 on host h"):
            with files.file_lock(path, wait=False):
                pass
        with pytest.raises(files.LockBusy):
            with files.file_lock(path, shared=True, wait=False):
                pass
    assert path.read_text() == ""  # the holder's name goes with it
    with files.file_lock(path, shared=True), files.file_lock(path, shared=True, wait=False):
        with pytest.raises(files.LockBusy, match="another process, just starting"):
            with files.file_lock(path, wait=False):
                pass
    with files.file_lock(path, wait=False):
        pass
