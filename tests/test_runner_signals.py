"""Ctrl-C stops a real runner, and its kernel, within seconds (issue 22).

Before: nbclient's handlers killed the kernel and swallowed the signal, the section was recorded
as a bare AssertionError, and the remaining sections still ran (45 s after SIGTERM). SIGTERM
takes the same path in the kernel's event loop; test_runner.py sends it outside a kernel.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SLEEPER = '''# %% [markdown]
# # 9.1 Sleeper

# %% tags=["parameters"]
quick = False
seed = 0
out_dir = "r"

# %%
import os, pathlib, time
pathlib.Path(out_dir, "kernel.pid").write_text(str(os.getpid()))
time.sleep(120)
'''
AFTER = SLEEPER.replace("9.1 Sleeper", "9.2 After").split("# %%\nimport")[0] + "# %%\nx = 1\n"


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead but not yet reaped by its parent, does not)."""
    try:
        os.kill(pid, 0)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (ProcessLookupError, FileNotFoundError):
        return False
    return state != "Z"


def test_ctrl_c_stops_the_kernel_and_the_run(tmp_path):
    signum = signal.SIGINT
    sections, out = tmp_path / "sections", tmp_path / "out"
    sections.mkdir()
    (sections / "s9_1_sleeper.py").write_text(SLEEPER)
    (sections / "s9_2_after.py").write_text(AFTER)
    runner = subprocess.Popen(
        [sys.executable, "-m", "experiments", "all", "--sections-dir", str(sections),
         "--out", str(out)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pid_file, kernel = out / "9.1" / "kernel.pid", None
    try:
        deadline = time.monotonic() + 120
        while not pid_file.is_file() or not pid_file.read_text():
            assert runner.poll() is None and time.monotonic() < deadline, runner.communicate()
            time.sleep(0.05)
        kernel = int(pid_file.read_text())
        sent = time.monotonic()
        runner.send_signal(signum)
        _, err = runner.communicate(timeout=60)
        print(f"{signum.name}: the runner exited {time.monotonic() - sent:.1f} s after it")
    finally:  # a failed test leaves no process: the runner, then its kernel
        if runner.poll() is None:
            runner.terminate()  # the runner kills its kernel on SIGTERM
            try:
                runner.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                runner.kill()
                runner.communicate()
        if kernel is None and pid_file.is_file() and pid_file.read_text():
            kernel = int(pid_file.read_text())
        if kernel is not None and _alive(kernel):
            os.kill(kernel, signal.SIGKILL)
    assert runner.returncode == 128 + signum, err
    assert f"interrupted by {signum.name}: the run stopped" in err
    record = json.loads((out / "9.1" / "run.json").read_text())
    assert (record["status"], record["error"]) == ("interrupted", f"{signum.name} stopped the run")
    assert not (out / "9.2").exists()  # the next section did not start
    index = (out / "index.html").read_text()
    assert f"interrupted: {signum.name} stopped the run" in index
    deadline = time.monotonic() + 10  # the kernel is killed, not left running its cell
    while _alive(kernel) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(kernel)
