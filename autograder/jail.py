"""Where a student's notebook runs while nbgrader grades it: a jail around the Jupyter kernel.

nbgrader executes the student's notebook in a kernel running as the grading user, so anything
in it could read other students' work, rewrite the gradebook or the grading code, or leave a
process behind to forge results later (design.md §3). Grading one student therefore happens in
a scratch course of its own, and:

- nbgrader itself runs in a network namespace with only a loopback (no network for anyone);
- the kernel runs in its own user, mount and PID namespaces (`unshare`), where the whole file
  system is read-only, `/tmp` and `/dev/shm` are fresh and empty, the scratch gradebook, the
  course's files and this repository's solutions, tests and grading code are hidden, and the
  only writable place is the folder nbgrader executes the notebook in;
- every process the kernel starts dies with it (it is PID 1 of its namespace), and `prlimit`
  caps its memory, file sizes and core dumps.

Where namespaces are not available (not Linux, or disabled), the kernel runs unjailed and the
grading run says so: graders should then follow SECURITY.md (a dedicated user or container).
"""
from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from assignment.paths import REPO_ROOT

REPO_SECRETS = ("solutions", "tests", ".git", "autograder")


@dataclass(frozen=True)
class KernelLimits:
    memory_bytes: int = 6 * 2**30      # RLIMIT_DATA of the kernel (torch alone takes about 1 GiB)
    file_bytes: int = 256 * 2**20      # the largest file the notebook may write
    tmp_bytes: int = 512 * 2**20       # its private /tmp and /dev/shm


@cache
def available() -> bool:
    """True when unprivileged user, mount, PID and network namespaces work here (Linux)."""
    if not all(shutil.which(tool) for tool in ("unshare", "prlimit", "ip")):
        return False
    probe = ["unshare", "-rn", "sh", "-c", "ip link set lo up && unshare -rmpf --mount-proc --kill-child true"]
    return subprocess.run(probe, capture_output=True).returncode == 0


def network_off(command: list[str]) -> list[str]:
    """`command` in a new network namespace that has only a loopback (nbgrader talks to its kernel over it)."""
    if not available():
        return command
    return ["unshare", "-rn", "sh", "-c", 'ip link set lo up && exec "$@"', "no-network", *command]


def _mount_script(scratch: Path, writable: Path, hidden: list[Path], limits: KernelLimits) -> str:
    q = shlex.quote
    lines = ["set -e",
             # Keep the scratch course, then hide the rest of /tmp (other students' scratch courses).
             f"mount --bind {q(str(scratch))} /mnt",
             f"mount -t tmpfs -o size={limits.tmp_bytes} tmpfs /tmp",
             f"mkdir -p {q(str(scratch))}",
             f"mount --move /mnt {q(str(scratch))}",
             f"mount --bind {q(str(writable))} {q(str(writable))}",
             f"mount -t tmpfs -o size={limits.tmp_bytes} tmpfs /dev/shm"]
    for path in hidden:   # tested inside: what lived under /tmp is already gone
        p = q(str(path))
        lines.append(f"if [ -d {p} ]; then mount -t tmpfs -o size=1m,ro tmpfs {p}; "
                     f"elif [ -e {p} ]; then mount --bind /dev/null {p}; fi")
    lines += [f"mount -o remount,bind,ro {q(str(scratch))}",
              "mount -o remount,bind,ro /",
              # The kernel is PID 1 here, so its parent looks gone: ipykernel would exit at once if it
              # watched JPY_PARENT_PID. It dies with nbgrader anyway (unshare --kill-child).
              "unset JPY_PARENT_PID",
              'exec "$@"']
    return "\n".join(lines)


def kernel_argv(scratch: Path, writable: Path, hidden: list[Path], limits: KernelLimits) -> list[str]:
    """The argv of a jailed IPython kernel (the kernelspec's), `{connection_file}` left for Jupyter."""
    kernel = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    if not available():
        return kernel
    limit = ["prlimit", f"--data={limits.memory_bytes}", f"--fsize={limits.file_bytes}", "--core=0", "--"]
    return ["unshare", "--user", "--map-root-user", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
            "sh", "-c", _mount_script(scratch, writable, hidden, limits), "kernel-jail", *limit, *kernel]


def install_kernelspec(jupyter_path: Path, argv: list[str]) -> None:
    """A `python3` kernelspec under `jupyter_path` (put first on JUPYTER_PATH, it wins over the default)."""
    spec = jupyter_path / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": argv, "display_name": "Python 3 (grading jail)", "language": "python",
        "interrupt_mode": "signal", "env": {"HOME": "/tmp", "TMPDIR": "/tmp", "MPLCONFIGDIR": "/tmp/matplotlib"},
    }, indent=1))


def hidden_paths(course_roots: list[Path], scratch: Path) -> list[Path]:
    """What the kernel must not see: grading code and solutions, every course's records, the scratch gradebook."""
    course_files = ("gradebook.db", "submitted", "autograded", "feedback", "grading", "solutions", "source",
                    "release", "nbgrader_config.py")
    paths = [REPO_ROOT / name for name in REPO_SECRETS]
    paths += [root / name for root in course_roots for name in course_files]
    paths.append(scratch / "gradebook.db")
    return [p for p in dict.fromkeys(paths) if not _inside(scratch / "autograded", p)]


def _inside(folder: Path, path: Path) -> bool:
    return path == folder or folder in path.parents
