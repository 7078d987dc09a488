"""What untrusted code sees and may do: the one policy of every sandbox, enforced by bubblewrap.

Every student-written line runs confined the same way, whether in the notebook's kernel while
nbgrader executes it (sandbox/kernel.py) or in a probe of the hidden checks (sandbox/runner.py):

- an **allow-list** file system: an empty root into which only the system's programs and libraries
  (/usr and its links), a few harmless files of /etc, the Python installation and environment
  that grade, and the MNIST data are bound read-only, plus the folders a caller names writable
  (a probe's scratch folder, a kernel's socket folder); a fresh /tmp and /dev/shm of a capped size,
  a /proc of its own PID namespace (its root-only files empty) and a minimal, read-only /dev
  that hands out no pseudo-terminal. Where the repository, the venv, the course or
  the data live (a home folder, /tmp, /srv) does not matter: nothing is visible unless listed here;
- new user, PID, network, IPC, UTS and cgroup namespaces: no network at all (not even a loopback
  reachable from outside), no other process visible;
- uid and gid 65534 inside, **no capabilities** and `no_new_privs`, and a nested user namespace
  that may create no further one (`--disable-userns`), so every mount is locked: it cannot be
  unmounted, remounted read-write, or escaped with unshare, setns or chroot;
- a session of its own (no terminal to inject input into), killed when its parent dies;
- rlimits on memory, file size, processes and core dumps (sandbox/limits.py), set by `prlimit`.
- under the class command (and on Gradescope), one student's whole grading (nbgrader, its kernel, its
  probes) runs under `grading_command`: the folders it shares with untrusted code are memory file
  systems of a capped size, its own, so a notebook cannot fill the machine's disk under the students
  graded beside it (plain `nbgrader autograde` and `--unconfined` start no such wrapper).

Nothing here depends on what the student knows: the policy is public (SECURITY.md) and safe when known.
"""
from __future__ import annotations

import os
import resource
import shutil
import site
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

from assignment.paths import mnist_root

from .limits import Limits

SANDBOX_UID = SANDBOX_GID = 65534   # "nobody" inside the sandbox
# System folders: bound read-only, or recreated as the same links (a merged-/usr system links /bin to usr/bin).
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# What of /etc a Python process needs (the dynamic linker's cache, time zone, user names): no secrets.
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/passwd",
             "/etc/group", "/etc/nsswitch.conf", "/etc/alternatives", "/etc/fonts", "/etc/mime.types")
FIX_NO_BWRAP = ("install bubblewrap: `apt-get install bubblewrap` (Debian, Ubuntu), `dnf install bubblewrap` "
                "(Fedora), `apk add bubblewrap` (Alpine); the Gradescope bundle's setup.sh installs it")
FIX_NO_USERNS = ("allow unprivileged user namespaces: `sysctl -w kernel.unprivileged_userns_clone=1` (Debian), "
                 "`sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` (Ubuntu 24.04), "
                 "`sysctl -w user.max_user_namespaces=15000`; in Docker, run the container with "
                 "`--security-opt seccomp=unconfined --security-opt apparmor=unconfined`, or grade in a VM")


class SandboxUnavailable(RuntimeError):
    """Untrusted code cannot be confined here: grading refuses to run (unless --unconfined is given)."""

    def __init__(self, reason: str, fix: str):
        super().__init__(f"the sandbox cannot start: {reason}. To fix it, {fix}. "
                         "(To grade without confinement anyway, trusting every submission, pass --unconfined.)")
        self.reason, self.fix = reason, fix


def visible_paths() -> list[tuple[Path, Path]]:
    """What untrusted code may read, as (source, place in the sandbox): the Python that grades, and the MNIST data.

    The Python installation and environment are everything on this interpreter's import path (a
    venv, its base installation, directories added by .pth files), bound where Python sees them
    and where their links point; never this repository or a folder holding it (the first entry of
    sys.path is often the folder grading started in).
    """
    from assignment.paths import REPO_ROOT
    hidden_above = [REPO_ROOT, Path.cwd()]   # never these folders, nor any folder holding them
    from_environment = set(filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep)))   # a person's choice
    named = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *site.getsitepackages(),
             *(p for p in sys.path if p and p not in from_environment), Path(sys.executable).resolve().parent.parent,
             mnist_root()]
    places = set()
    for name in named:
        path = Path(os.path.abspath(name))
        if path.is_dir():
            places |= {path, path.resolve()}
    places = {p for p in places if not any(p == h or p in h.parents for h in hidden_above)}
    outermost = sorted(p for p in places if not any(other in p.parents for other in places))
    return [(p.resolve(), p) for p in outermost if not any(Path(d) in (p, *p.parents) for d in ("/usr", "/etc"))]


def base_env() -> dict[str, str]:
    """The whole environment of untrusted code (bubblewrap clears every other variable): no grader secret."""
    bin_dir = Path(sys.executable).parent
    return {"PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8",
            "MPLCONFIGDIR": "/tmp/matplotlib", "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1",
            "MNIST_ROOT": str(mnist_root())}


def _rlimits(limits: Limits) -> list[str]:
    """`prlimit` options for `limits`, each capped at this process's hard limit (which it may not raise)."""
    def value(kind: int, wanted: int) -> int:
        hard = resource.getrlimit(kind)[1]
        return wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    return ["prlimit", f"--data={value(resource.RLIMIT_DATA, limits.memory_bytes)}",
            f"--fsize={value(resource.RLIMIT_FSIZE, limits.file_bytes)}",
            f"--nproc={value(resource.RLIMIT_NPROC, limits.processes)}", "--core=0", "--"]


def _system_binds() -> list[str]:
    args = []
    for name in SYSTEM_DIRS:
        path = Path(name)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), name]
        elif path.is_dir():
            args += ["--ro-bind", name, name]
    for name in ETC_FILES:
        args += ["--ro-bind-try", name, name]
    return args


# What of /proc writes to the machine, not to the sandbox: read-only, or the sandbox's uid, which is the
# grader's, could change kernel settings when the grader is root (bubblewrap's own cover can fail silently).
PROC_COVERED = ("/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs", "/proc/acpi", "/proc/scsi",
                "/proc/kcore", "/proc/kallsyms", "/proc/timer_list", "/proc/keys", "/proc/key-users")


@cache
def _proc_root_only() -> tuple[str, ...]:
    """The files of /proc that only root may read (the machine's physical pages, its slabs, its timers...).

    The sandbox's uid is the grader's: when the grader is root, these would be readable inside.
    """
    names = []
    for entry in os.scandir("/proc"):
        try:
            if not entry.name.isdigit() and entry.is_file(follow_symlinks=False) and not entry.stat().st_mode & 0o004:
                names.append(entry.path)
        except OSError:
            continue
    return tuple(sorted(names))


def _proc_covers() -> list[str]:
    args = []
    hidden = _proc_root_only()
    for path in PROC_COVERED:
        if path not in hidden:
            args += ["--ro-bind-try", path, path]
    for path in hidden:   # an empty file in their place, whoever grades
        args += ["--ro-bind-try", "/dev/null", path]
    return args


def command(argv: Sequence[str], limits: Limits, *, writable: Sequence[Path] = (), env: Mapping[str, str] = {},
            cwd: str = "/tmp", pid1: bool = False) -> list[str]:
    """`argv` confined by the policy above, with `writable` (folders) its only writable places but /tmp.

    `env` is added to base_env(). `pid1`: `argv` is PID 1 of its namespace (it must reap, and when it
    ends everything it started ends); otherwise bubblewrap's own init is, and `argv` may signal itself.
    """
    binds = [("--ro-bind", str(source), str(place)) for source, place in visible_paths()]
    binds += [("--bind", str(Path(p).resolve()), str(Path(p).resolve())) for p in writable]
    binds.sort(key=lambda bind: len(Path(bind[2]).parts))   # a folder before what is bound inside it
    args = [shutil.which("bwrap") or "bwrap",
            "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--disable-userns", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID),
            "--hostname", "sandbox", "--die-with-parent", "--new-session", "--clearenv",
            *_system_binds(), "--proc", "/proc", *_proc_covers(), "--dev", "/dev",
            # bubblewrap's /dev/pts may hand out every pseudo-terminal the machine has left: none here
            "--ro-bind", "/dev/null", "/dev/pts/ptmx",
            "--size", str(limits.tmp_bytes), "--perms", "1777", "--tmpfs", "/tmp",
            "--size", str(limits.tmp_bytes), "--perms", "1777", "--tmpfs", "/dev/shm",
            # bubblewrap's /dev is a memory file system that the sandbox's uid owns, with no size limit (half
            # the machine's memory): read-only, like the root; its devices and /dev/shm work as before
            "--remount-ro", "/dev"]
    for kind, source, place in binds:
        args += [kind, source, place]
    args += ["--remount-ro", "/"]   # the empty root itself: nothing may be written beside the mounts above
    for name, value in {**base_env(), **env}.items():
        args += ["--setenv", name, value]
    if os.geteuid() == 0:
        args += ["--cap-drop", "ALL"]   # bubblewrap keeps none for others anyway
    if pid1:
        args.append("--as-pid-1")
    return [*_rlimits(limits), *args, "--chdir", cwd, "--", *argv]


def grading_command(argv: Sequence[str], private: Mapping[Path, int], started_fd: int,
                    own_user: bool | None = None) -> list[str]:
    """`argv`, one student's grading (nbgrader and all it starts), with each folder of `private` a fresh
    memory file system of at most that many bytes, seen by that grading alone.

    The folders `command` makes writable (a kernel's sockets folder, the probes' folders) are the only
    places on the machine's disk where confined code may write, and the number of files it writes there
    is not limited: on the disk, one notebook could fill it and fail every grading beside its own.
    Here they are in memory, capped, and gone when the grading ends; the rest of the file system is the
    machine's as it is. A grader that may mount (root with CAP_SYS_ADMIN) keeps its user and what it may
    read; any other gets a user namespace that maps its uid to itself (bubblewrap's unprivileged way to
    mount). Existing folders only (bubblewrap would make a missing one on the machine's disk).

    bubblewrap runs `argv` only once every mount is made: just before, a launcher writes "started" on
    `started_fd` (an inherited pipe; `grading_started` reads it) and closes it for `argv`. A grading that
    never started is the machine's failure, not the notebook's.
    """
    own_user = _may_mount() if own_user is None else own_user   # False: a user namespace (tests choose either)
    args = [shutil.which("bwrap") or "bwrap", *([] if own_user else ["--unshare-user"]), "--dev-bind", "/", "/",
            "--die-with-parent"]
    for folder, size in private.items():
        if not folder.is_dir():
            raise FileNotFoundError(f"the grading's private folder {folder} does not exist")
        args += ["--size", str(size), "--perms", "0700", "--tmpfs", str(folder.resolve())]
    return [*args, "--", sys.executable, "-I", "-S", "-c", _LAUNCHER, str(started_fd), *argv]


# grading_command's launcher: says "started" on the fd it is given, closes it, and becomes the grading.
_LAUNCHER = "import os, sys; fd = int(sys.argv[1]); os.write(fd, b'started'); os.close(fd); os.execvp(sys.argv[2], sys.argv[2:])"


def grading_started(started_read: int) -> bool:
    """Whether grading_command's launcher said "started" on the pipe whose read end is `started_read`.

    Read once the grading has ended, without waiting: the launcher closed its end before nbgrader ran.
    """
    os.set_blocking(started_read, False)
    try:
        return os.read(started_read, 64) == b"started"
    except BlockingIOError:   # nothing written, and a writer still open
        return False


_CAP_SYS_ADMIN = 21
CHECK_SECONDS = 60   # check() starts one small sandbox: it takes well under a second


def _may_mount() -> bool:
    """Whether this process is root and holds CAP_SYS_ADMIN (a container's root often does not)."""
    if os.geteuid() != 0:
        return False
    try:
        with open("/proc/self/status") as f:
            effective = next(int(line.split()[1], 16) for line in f if line.startswith("CapEff:"))
    except (OSError, StopIteration, ValueError):
        return False
    return bool(effective >> _CAP_SYS_ADMIN & 1)


def unconfined_command(argv: Sequence[str], limits: Limits) -> list[str]:
    """`argv` with the limits but no confinement: only for a grader who passed --unconfined."""
    return [*_rlimits(limits), *argv]


@cache
def check() -> None:
    """Raise SandboxUnavailable, saying why and how to fix it, unless the policy can be enforced here."""
    if sys.platform != "linux":
        raise SandboxUnavailable(f"it needs Linux, and this is {sys.platform}", "grade on Linux (a VM or a container)")
    if shutil.which("bwrap") is None:
        raise SandboxUnavailable("bubblewrap (`bwrap`) is not installed", FIX_NO_BWRAP)
    if shutil.which("prlimit") is None:
        raise SandboxUnavailable("`prlimit` (util-linux) is not installed", "install util-linux")
    inside = ("import os, sys\n"
              "assert os.getuid() == 65534, 'not uid 65534'\n"
              "writable = [p for p in ('/proc/sys/kernel', '/proc/sysrq-trigger', '/', '/dev') if os.access(p, os.W_OK)]\n"
              "assert not writable, f'{writable} writable'\n"
              "shared = os.statvfs(sys.argv[1])\n"
              "assert shared.f_blocks * shared.f_frsize <= 2**20, 'the shared folder is not capped'\n")
    with tempfile.TemporaryDirectory(prefix="vae-sandbox-check-") as folder:
        started_read, started_write = os.pipe()
        probe = command([sys.executable, "-c", inside, folder],
                        Limits(memory_bytes=2**30, file_bytes=2**20, tmp_bytes=2**20), writable=[Path(folder)])
        try:
            result = subprocess.run(grading_command(probe, {Path(folder): 2**20}, started_write), capture_output=True,
                                    text=True, stdin=subprocess.DEVNULL, env={"PATH": os.defpath},
                                    pass_fds=(started_write,), timeout=CHECK_SECONDS)
        except subprocess.TimeoutExpired:
            raise SandboxUnavailable(f"bubblewrap did not finish starting a sandbox within {CHECK_SECONDS} s",
                                     "look for a mount of this machine that does not answer (an NFS or automounted "
                                     "folder: bubblewrap binds the whole file system), or a machine too busy to "
                                     "grade") from None
        finally:
            os.close(started_write)
            os.close(started_read)
    if result.returncode != 0:
        said = (result.stderr.strip().splitlines() or ["no message"])[-1]
        if "namespace" in said or "uid map" in said or "Operation not permitted" in said or "Permission denied" in said:
            raise SandboxUnavailable(f"bubblewrap may not create namespaces here ({said})", FIX_NO_USERNS)
        raise SandboxUnavailable(f"bubblewrap failed ({said})", "run the command above by hand to see why")


def available() -> bool:
    try:
        check()
    except SandboxUnavailable:
        return False
    return True
