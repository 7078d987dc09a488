"""Stopping what untrusted code started and removing what it wrote: process groups and folders.

No torch here: the nbgrader process loads these (the kernel's manager, the class workflow) before
any check needs torch, and importing torch costs a second and a half.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path


def remove_tree(path: Path) -> bool:
    """Remove a folder untrusted code wrote in, whatever it holds; return whether it is gone.

    Python 3.11's rmtree recurses (a folder nested 5,000 deep makes it raise RecursionError), so rm
    does it; links are removed, never followed. No chmod first: code still running could swap an entry
    for a link while chmod works, and chmod applies its mode by name. An ordinary user's rm cannot
    empty a folder the code made unreadable (chmod 000), so for an ordinary user rm runs again in a
    user namespace where that user is root over its own files (`unshare --map-root-user`), which
    reads any of them whatever their mode. One second later all of it is tried again: code dying with
    its sandbox may still have been writing there. Call it off any event loop (asyncio.to_thread).
    """
    rm = ["rm", "-rf", "--one-file-system", "--", str(path)]
    commands = [rm] if os.geteuid() == 0 else [rm, ["unshare", "--user", "--map-root-user", *rm]]
    for attempt in range(2):
        if attempt:
            time.sleep(1)
        for command in commands:
            try:
                subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            except OSError:   # no unshare here: rm's own attempt is all there is
                pass
            if not os.path.lexists(path):
                return True
    return False


def wait_then_kill_group(child: subprocess.Popen, seconds: float) -> bool:
    """Wait up to `seconds` for `child` (started with start_new_session=True), then kill its whole group.

    The group goes either way: what the student's code left running (forks, sleepers, a kernel
    nbgrader did not stop) must not outlive the grading. Returns whether the time ran out.
    """
    try:
        child.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        return True
    finally:
        kill_group(child)


def kill_group(child: subprocess.Popen) -> None:
    """Kill the child and everything it started (background threads die with it, forks too)."""
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    child.wait()
