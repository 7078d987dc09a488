"""Whether this grading runs in a memory-limited cgroup: the one bound on memory that no rlimit counts.

The sandbox's rlimits bound each process's own memory, which is what an honest mistake (a huge
tensor) takes. A notebook written to exhaust the machine can hold memory that belongs to no
process's count: anonymous files (memfd), SysV shared memory, socket buffers, empty files in the
sandbox's memory file systems (SECURITY.md, "Total memory"). Only a cgroup with a memory limit
counts all of it; the class command says so when it grades outside one.
"""
from __future__ import annotations

from pathlib import Path

UNLIMITED_V1 = 2**62   # cgroup v1 writes "no limit" as a number near 2**63


def _lowest(limits) -> int | None:
    return min((limit for limit in limits if limit is not None), default=None)


def _read_limit(path: Path, unlimited) -> int | None:
    """The limit a cgroup file holds, or None for no limit (or no such file)."""
    try:
        text = path.read_text().strip()
        return None if unlimited(text) else int(text)
    except (OSError, ValueError):
        return None


def _lowest_limit(mount: Path, path: str, name: str, unlimited) -> int | None:
    """The lowest limit in the file `name` of the cgroup `path` and of its ancestors, up to the hierarchy's `mount`."""
    folder = mount / path.strip("/")
    limits = []
    for candidate in (folder, *folder.parents):
        limits.append(_read_limit(candidate / name, unlimited))
        if candidate == mount:
            break
    return _lowest(limits)


def _limit_v2(root: Path, path: str) -> int | None:
    return _lowest_limit(root, path, "memory.max", lambda text: text == "max")


def _limit_v1(root: Path, path: str) -> int | None:
    """In the v1 memory hierarchy (mounted alone, or with other controllers: "memory,cpuset")."""
    mounts = [d for d in root.iterdir() if d.is_dir() and "memory" in d.name.split(",")] if root.is_dir() else []
    limits = [_lowest_limit(m, path, "memory.limit_in_bytes", lambda text: int(text) >= UNLIMITED_V1) for m in mounts]
    return _lowest(limits)


def cgroup_memory_limit(proc_cgroup: Path = Path("/proc/self/cgroup"),
                        cgroup_root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """The memory limit, in bytes, of the cgroup this process is in (its lowest ancestor's), or None if none."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    limits = []
    for line in lines:
        if line.count(":") < 2:
            continue
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            limits.append(_limit_v2(cgroup_root, path))
        elif "memory" in controllers.split(","):
            limits.append(_limit_v1(cgroup_root, path))
    return _lowest(limits)


def physical_memory(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def memory_bounded() -> bool:
    """Whether a cgroup keeps this grading below the machine's memory (a limit at or above it does not)."""
    limit, total = cgroup_memory_limit(), physical_memory()
    return limit is not None and (total is None or limit < total)


ADVICE = ("this class was graded outside a memory-limited cgroup: the sandbox's limits bound each process's "
          "memory, not memory that belongs to no process (SECURITY.md, 'Total memory'), so a notebook written "
          "to exhaust this machine's memory could make the out-of-memory killer stop the gradings beside it. "
          "For classes you do not trust, grade under a memory limit: `systemd-run --scope -p MemoryMax=20G "
          ".venv/bin/vae-course grade ...` (as root, or with --user where systemd delegates it), or "
          "`docker run --memory 20g ...`")
