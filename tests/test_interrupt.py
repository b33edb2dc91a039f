"""Ctrl-C in the long commands: one line on stderr, exit status 130, no
traceback (train's own handling is in test_lm_checkpoint.py)."""
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import interruptible

COMMANDS = {
    # A budget that keeps it timing for minutes, without torch to start faster.
    "bench": ["bench", "--no-torch", "--sizes", "20,35,100,100", "--budget", "60",
              "--peak-size", "64"],
    "demo": ["demo"],
}
STARTED = {"bench": "threads:", "demo": "gatedrnn demo:"}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_ctrl_c_ends_with_one_line_and_130(command):
    proc = subprocess.Popen([sys.executable, "-m", "gatedrnn", *COMMANDS[command]],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            preexec_fn=interruptible)
    try:
        deadline = time.monotonic() + 60
        for line in proc.stdout:          # wait until it is under way
            if line.startswith(STARTED[command]) or time.monotonic() > deadline:
                break
        time.sleep(0.3)
        assert proc.poll() is None, "finished before the test could interrupt it"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == [f"{command}: interrupted (Ctrl-C)"], err
