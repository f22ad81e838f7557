"""core.atomic_files: a crashed write's temporary file goes at the next start, a live one stays.

The writer below is a real second process: it opens a locked temporary file, writes a little,
says so on stdout and waits. Every wait is bounded (readline with a subprocess timeout).
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from core.atomic_files import TEMP_PREFIX, TEMP_SUFFIX, locked_temp_file, remove_abandoned_temp_files, write_atomic
from core.checkpoint import clean_stale_temp_files

ROOT = Path(__file__).resolve().parent.parent
_WRITER = """
import os, sys, time
from core.atomic_files import locked_temp_file
with locked_temp_file(sys.argv[1]) as (fd, tmp):
    os.write(fd, b"partial")
    os.close(fd)          # the lock outlives the caller's descriptor
    print(tmp, flush=True)
    time.sleep(120)
"""


def _age(path: Path, seconds: float = 3600) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


def _start_writer(folder: Path) -> tuple[subprocess.Popen, Path]:
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(folder)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    line = proc.stdout.readline()
    assert line, "the writer process did not start"
    return proc, Path(line.strip())


def test_a_live_writers_file_stays_however_old_and_a_killed_ones_goes_at_once(tmp_path):
    proc, tmp = _start_writer(tmp_path)
    try:
        _age(tmp)
        assert remove_abandoned_temp_files(tmp_path) == 0
        assert tmp.exists()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert tmp.exists()            # the restart comes at once, not minutes later
    assert clean_stale_temp_files(tmp_path) == 1
    assert not tmp.exists()


def test_a_file_not_yet_locked_is_left_alone_for_an_hour(tmp_path):
    # created under its first name, before the lock and the rename to the name cleaned by lock
    young = tmp_path / f".cnn-lab-new-abc{TEMP_SUFFIX}"
    young.write_bytes(b"")
    _age(young, 600)
    assert remove_abandoned_temp_files(tmp_path) == 0
    _age(young, 3601)
    assert remove_abandoned_temp_files(tmp_path) == 1


def test_the_block_removes_its_file_on_error_and_write_atomic_replaces(tmp_path):
    target = tmp_path / "data.bin"
    try:
        with locked_temp_file(tmp_path) as (fd, tmp):
            os.close(fd)
            raise RuntimeError("disk full")
    except RuntimeError:
        pass
    assert list(tmp_path.iterdir()) == []
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert list(tmp_path.iterdir()) == [target]


def test_a_symlink_named_like_a_temp_file_is_never_followed(tmp_path):
    outside = tmp_path / "keep.txt"
    outside.write_text("precious")
    folder = tmp_path / "runs"
    folder.mkdir()
    (folder / f"{TEMP_PREFIX}link{TEMP_SUFFIX}").symlink_to(outside)
    assert remove_abandoned_temp_files(folder) == 0
    assert outside.read_text() == "precious"
