"""The class command knows whether a memory-limited cgroup bounds its grading (sandbox/machine_memory.py).

The rlimits of the sandbox do not count every kind of memory a hostile notebook can hold; only a
cgroup's limit does, so the grader is told when there is none. The cgroup files are those the kernel
writes, laid out as it lays them out (v2 unified, v1 memory hierarchy); one test makes a real cgroup.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.sandbox.machine_memory import UNLIMITED_V1, cgroup_memory_limit

GiB = 2**30


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text + "\n")


def _limit(tmp_path: Path, proc_cgroup: str, files: dict[str, str]) -> int | None:
    _tree(tmp_path / "sys", files)
    (tmp_path / "cgroup").write_text(proc_cgroup)
    return cgroup_memory_limit(tmp_path / "cgroup", tmp_path / "sys")


def test_a_v2_limit_on_any_ancestor_of_the_grading_bounds_it(tmp_path):
    limit = _limit(tmp_path, "0::/course/run\n", {"course/memory.max": str(4 * GiB), "course/run/memory.max": "max"})
    assert limit == 4 * GiB, f"a 4 GiB limit on the parent cgroup was read as {limit}"


def test_the_lowest_of_several_v2_limits_is_the_bound(tmp_path):
    limit = _limit(tmp_path, "0::/a/b\n", {"a/memory.max": str(8 * GiB), "a/b/memory.max": str(2 * GiB)})
    assert limit == 2 * GiB, limit


def test_a_container_whose_own_cgroup_is_the_root_reads_its_limit_there(tmp_path):
    """docker run --memory: in its cgroup namespace the container's cgroup is "/", with a memory.max."""
    assert _limit(tmp_path, "0::/\n", {"memory.max": str(6 * GiB)}) == 6 * GiB


def test_no_limit_anywhere_means_unbounded(tmp_path):
    assert _limit(tmp_path, "0::/a\n", {"a/memory.max": "max"}) is None
    assert _limit(tmp_path / "v1", "4:memory:/a\n1:cpu,cpuacct:/\n",
                  {"memory/memory.limit_in_bytes": str(UNLIMITED_V1 * 2 - 4096),
                   "memory/a/memory.limit_in_bytes": "9223372036854771712"}) is None


def test_a_v1_memory_limit_is_read_from_the_memory_hierarchy(tmp_path):
    limit = _limit(tmp_path, "9:name=systemd:/\n4:memory:/grading\n1:cpu,cpuacct:/\n0::/\n",
                   {"memory/grading/memory.limit_in_bytes": str(3 * GiB),
                    "cpu,cpuacct/grading/memory.limit_in_bytes": str(GiB)})   # not the memory controller's
    assert limit == 3 * GiB, limit


def test_a_limit_file_that_is_not_a_number_counts_as_no_limit_and_the_others_still_bound(tmp_path):
    """A garbled memory.max (not "max", not a number) must not stop the class command: it is no limit, so the
    grader is warned unless another ancestor's limit bounds the grading."""
    assert _limit(tmp_path, "0::/a\n", {"a/memory.max": "12 G"}) is None
    limit = _limit(tmp_path / "two", "0::/a/b\n", {"a/memory.max": str(5 * GiB), "a/b/memory.max": "garbled"})
    assert limit == 5 * GiB, f"the parent's 5 GiB limit was lost behind a garbled child file: read {limit}"


def test_a_machine_without_cgroup_files_is_unbounded(tmp_path):
    assert cgroup_memory_limit(tmp_path / "missing", tmp_path / "missing-sys") is None


def _writable_v1_memory_cgroup() -> Path | None:
    """A folder where this process may make a v1 memory cgroup (root on a v1 machine), or None."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            folder = Path("/sys/fs/cgroup/memory") / path.strip("/")
            return folder if os.access(folder, os.W_OK) else None
    return None


def test_a_grading_started_in_a_real_memory_limited_cgroup_sees_the_limit(tmp_path):
    parent = _writable_v1_memory_cgroup()
    if parent is None:
        pytest.skip("no v1 memory cgroup this user may make here")
    cgroup = parent / f"vae-test-{os.getpid()}"
    cgroup.mkdir()
    try:
        (cgroup / "memory.limit_in_bytes").write_text(str(2 * GiB))
        code = "from autograder.sandbox.machine_memory import cgroup_memory_limit; print(cgroup_memory_limit())"
        seen = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                              preexec_fn=lambda: (cgroup / "cgroup.procs").write_text("0"))
    finally:
        cgroup.rmdir()
    assert seen.stdout.strip() == str(2 * GiB), f"inside a 2 GiB cgroup the grader read {seen.stdout!r} {seen.stderr}"
