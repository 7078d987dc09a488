"""Where a student's notebook runs while nbgrader grades it: a jail around the Jupyter kernel.

nbgrader executes the student's notebook in a kernel running as the grading user, so anything
in it could read other students' work, rewrite the gradebook or the grading code, or leave a
process behind to forge results later (design.md §3). Grading one student therefore happens in
a scratch course of its own, and:

- nbgrader itself runs in a network namespace with only a loopback (no network for anyone), and
  in a PID namespace of its own: when it is stopped, every process it started goes with it;
- the kernel runs in its own user, mount and PID namespaces (`unshare`), where every mount
  is read-only, `/tmp` and `/dev/shm` are fresh and empty, everything in the course folders and
  this repository is hidden but the Python environment and the data (solutions, tests, grading
  code, gradebooks, submissions, downloads), and the scratch gradebook too; the only writable
  places are size-capped memory file systems private to the jail (its working folder, /tmp,
  /dev/shm), so nothing the kernel writes is ever seen, or followed, by nbgrader or the grader;
- every process the kernel starts dies with it (it is PID 1 of its namespace), and `prlimit`
  caps its memory, file sizes and core dumps.

The probes of the hidden checks (autograder/sandbox.py) run the student's functions in the
same kind of confinement (`confinement_script`), with their own scratch folder as the only
writable place.

Where namespaces are not available (not Linux, or disabled), the kernel runs unjailed and the
grading run says so: graders should then follow SECURITY.md (a dedicated user or container).
"""
from __future__ import annotations

import json
import shlex
import shutil
import site
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from assignment.paths import REPO_ROOT, mnist_root

REPO_SECRETS = ("solutions", "tests", ".git", "autograder")


@dataclass(frozen=True)
class KernelLimits:
    memory_bytes: int = 6 * 2**30      # RLIMIT_DATA of the kernel (torch alone takes about 1 GiB)
    file_bytes: int = 256 * 2**20      # the largest file the notebook may write
    tmp_bytes: int = 512 * 2**20       # its private /tmp, /dev/shm and working folder (each)


@cache
def available() -> bool:
    """True when the jail works here: unprivileged user, mount, PID and network namespaces (Linux)."""
    if not all(shutil.which(tool) for tool in ("unshare", "prlimit", "ip")):
        return False
    with tempfile.TemporaryDirectory(prefix="jail-probe-") as folder:
        keep = Path(folder)
        (keep / "private").mkdir()
        script = confinement_script(keep, private=keep / "private", hidden=[], tmp_bytes=2**20)
        inner = ["unshare", "--user", "--map-root-user", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
                 "sh", "-c", script, "jail-probe", "true"]
        probe = [*NETWORK_OFF, *inner]
        return subprocess.run(probe, capture_output=True, cwd=keep / "private").returncode == 0


NETWORK_OFF = ["unshare", "--user", "--map-root-user", "--net", "--pid", "--fork", "--kill-child", "--mount-proc",
               "sh", "-c", 'ip link set lo up && exec "$@"', "no-network"]


def network_off(command: list[str]) -> list[str]:
    """`command` in a new network namespace that has only a loopback (nbgrader talks to its kernel over it).

    And in a PID namespace of its own, which `command` is PID 1 of: when it dies (or the `unshare`
    in front of it is killed, as grade_student does at the time limit) every process it started
    dies too, jailed kernels included (Jupyter starts them in sessions of their own, out of reach
    of a signal to nbgrader's process group).
    """
    if not available():
        return command
    return [*NETWORK_OFF, *command]


def confinement_script(keep: Path, hidden: list[Path], tmp_bytes: int, shared: Path | None = None,
                       private: Path | None = None) -> str:
    """The sh script that confines what it then runs (`"$@"`), in new user, mount and PID namespaces.

    `keep` stays visible over the fresh /tmp, read-only; `shared` (inside it, or it) stays writable and
    is seen by the grader too; `private` (inside it) becomes an empty memory file system of
    `tmp_bytes`, writable and seen by nobody else. Every other mount turns read-only, /tmp and
    /dev/shm are fresh, `hidden` paths look empty. The working folder is entered again inside the
    new tree, so that no `..` leads back to the real one. Any step that fails stops the script.
    """
    q = lambda path: shlex.quote(str(path))   # noqa: E731
    writable = ["/tmp", "/dev/shm", *(str(p) for p in (shared, private) if p is not None)]
    lines = ["set -e",
             # Keep `keep`, then hide the rest of /tmp (other students' scratch courses).
             f"mount --bind {q(keep)} /mnt",
             f"mount -t tmpfs -o size={tmp_bytes},mode=1777 tmpfs /tmp",
             f"mkdir -p {q(keep)}",
             f"mount --move /mnt {q(keep)}"]
    if shared is not None:
        lines.append(f"mount --bind {q(shared)} {q(shared)}")
    if private is not None:
        lines.append(f"mount -t tmpfs -o size={tmp_bytes},mode=700 tmpfs {q(private)}")
    lines.append(f"mount -t tmpfs -o size={tmp_bytes},mode=1777 tmpfs /dev/shm")
    # The machine's sockets (D-Bus, systemd, docker, agents) are reached by path, whatever the network namespace.
    lines.append("if [ -d /run ]; then mount -t tmpfs -o size=1m,mode=755 tmpfs /run; fi")
    needed = needed_paths()
    for path in hidden:   # tested inside: what lived under /tmp is already gone
        p = q(path)
        inside = [k for k in needed if Path(path) in k.parents]
        if inside:   # a folder holding the Python environment or the data: hidden around them
            stages = [f"/tmp/.jail-keep-{n}" for n in range(len(inside))]
            lines.append(f"if [ -d {p} ]; then")
            lines += [f"  mkdir {stage} && mount --bind {q(k)} {stage}" for k, stage in zip(inside, stages)]
            lines.append(f"  mount -t tmpfs -o size=1m tmpfs {p}")   # made read-only below, with every mount
            lines += [f"  mkdir -p {q(k)} && mount --move {stage} {q(k)} && rmdir {stage}" for k, stage in zip(inside, stages)]
            lines.append("fi")
        else:
            lines.append(f"if [ -d {p} ]; then mount -t tmpfs -o size=1m,ro tmpfs {p}; "
                         f"elif [ -e {p} ]; then mount --bind /dev/null {p}; fi")
    # Every mount read-only (its other flags kept: a user namespace may not drop them), but the writable ones.
    # (Mount points with spaces or other escaped characters in their path are not handled; there are none here.)
    skip = " ".join(shlex.quote(w) for w in writable)
    lines += ['cut -d" " -f5,6 /proc/self/mountinfo | while read -r point options; do',
              f'  for w in {skip}; do [ "$point" = "$w" ] && continue 2; done',
              '  case ",$options," in *,ro,*) continue ;; esac',
              '  [ -e "$point" ] || continue   # under a hidden folder: out of reach anyway',
              '  mount -o "remount,bind,ro${options#rw}" "$point" || { echo "jail: cannot make $point read-only" >&2; exit 1; }',
              "done",
              # Enter the working folder again, inside the new tree (in the private folder: a fresh, empty one).
              'mkdir -p "$PWD" 2>/dev/null || true',
              'cd "$PWD"']
    return "\n".join(lines)


def _mount_script(scratch: Path, writable: Path, hidden: list[Path], limits: KernelLimits) -> str:
    return "\n".join([confinement_script(scratch, hidden, limits.tmp_bytes, private=writable),
                      # The kernel is PID 1 here, so its parent looks gone: ipykernel would exit at once if it
                      # watched JPY_PARENT_PID. It dies with nbgrader anyway (unshare --kill-child).
                      "unset JPY_PARENT_PID",
                      'exec "$@"'])


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


def needed_paths() -> list[Path]:
    """What a kernel or a probe must still see inside hidden folders: this Python environment and the MNIST data."""
    paths = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), Path(sys.executable).resolve().parent,
             mnist_root(), *(Path(p) for p in site.getsitepackages())}
    paths = {p.resolve() for p in paths if p.exists()}
    return sorted(p for p in paths if not any(other in p.parents for other in paths))   # the outermost ones


def hidden_paths(course_roots: list[Path], scratch: Path) -> list[Path]:
    """What the kernel and the probes must not see.

    Every course folder whole (this repository, the course being graded, and any other folder
    passed, e.g. the downloads): gradebook, submissions, reports, downloads, solutions, grading
    code, tests, whatever an instructor keeps there or adds while the class is graded; only the
    Python environment and the MNIST data inside them stay visible (confinement_script). The
    grading user's home folder likewise. This repository's solutions, tests and grading code in any
    case; and the scratch gradebook.
    """
    scratch = scratch.resolve()
    paths = [REPO_ROOT / name for name in REPO_SECRETS]
    paths += [Path(root).resolve() for root in course_roots]
    paths.append(Path.home().resolve())   # the grading user's keys, tokens and settings
    paths.append(scratch / "gradebook.db")
    needed = needed_paths()
    return [p for p in dict.fromkeys(paths)   # never what the kernel needs, nor the folder it works in
            if not _inside(scratch / "autograded", p) and p not in scratch.parents
            and not any(_inside(k, p) for k in needed)]


def _inside(folder: Path, path: Path) -> bool:
    return path == folder or folder in path.parents
