"""The limits of untrusted code: one place for every number that bounds a kernel or a probe.

A limit is enforced by the kernel (rlimits set by `prlimit` before bubblewrap starts, tmpfs
sizes given to bubblewrap) or by the grading process (wall time), never by the confined code.
"""
from __future__ import annotations

import resource
from dataclasses import dataclass

GiB, MiB = 2**30, 2**20


@dataclass(frozen=True)
class Limits:
    """What one confined process tree (a notebook's kernel, or a probe server and its probes) may use."""
    memory_bytes: int          # RLIMIT_DATA of each process: heap and private mappings (torch alone takes ~1 GiB)
    file_bytes: int            # RLIMIT_FSIZE: the largest file it may write
    tmp_bytes: int             # size of its private /tmp and /dev/shm (memory file systems), each
    processes: int = 4096      # RLIMIT_NPROC: tasks (threads count) of the grading user; bounds a fork bomb.
                               # The kernel does not apply it to root: grade as an ordinary user (SECURITY.md).


# The notebook's kernel: it trains small models in fast mode and draws figures.
KERNEL = Limits(memory_bytes=6 * GiB, file_bytes=256 * MiB, tmp_bytes=512 * MiB)
# Torch threads of the kernel. It runs beside the hidden checks (nbgrader_plugin.StartHiddenChecks),
# which use one thread per probe: with two threads the kernel's workers spin waiting for a core the
# checks hold, and the kernel took 51 s instead of 18 s on the 2-core machine (autograder.devtools.benchmark).
KERNEL_THREADS = 1


@dataclass(frozen=True)
class ProbeLimits:
    """One probe: a call of the student's functions by the hidden checks."""
    seconds: float = 60.0                 # wall time, enforced by the grading process
    memory_bytes: int = 3 * GiB           # RLIMIT_DATA of the probe (torch itself needs about 0.8 GiB)
    file_bytes: int = 64 * MiB            # RLIMIT_FSIZE: its results come back in one file
    threads: int = 1                      # torch threads: one per probe keeps parallel grading fair
    statement_seconds: float = 5.0        # one top-level statement of the student's code while it loads (in every probe)
    confined: bool = True                 # False only with the grader's explicit --unconfined

    @property
    def tree(self) -> Limits:
        """The limits of the confined process tree that runs this probe."""
        return Limits(memory_bytes=self.memory_bytes, file_bytes=self.file_bytes, tmp_bytes=64 * MiB)


@dataclass(frozen=True)
class GradingLimits:
    """One student's grading: nbgrader autograde with the kernel and the hidden checks.

    `cell_seconds` is nbgrader's Execute.timeout: nbgrader_config.py sets it from here, and the
    class command passes it to every student's nbgrader.
    """
    seconds: float = 600.0       # the whole of one student's grading (execution and hidden checks)
    cell_seconds: int = 120      # one cell of the notebook (fast mode: the slowest takes a few seconds)
    unconfined: bool = False     # the grader's explicit --unconfined: students' code runs without the sandbox
    # The folders a grading shares with confined code are memory file systems of these sizes, private to that
    # grading (sandbox/policy.grading_command): its probes' folder, which holds each probe's inputs, results and
    # output while it runs (the solution's probes hold about 15 MiB at most), and its kernel's sockets folder
    # (nothing but sockets and the connection file).
    probes_folder_bytes: int = 512 * MiB
    sockets_folder_bytes: int = 1 * MiB


@dataclass(frozen=True)
class OutputLimits:
    """What is kept of a notebook's outputs, all of them untrusted (the kernel's, and the student's own run)."""
    # nbgrader keeps every output the kernel sends in memory and writes them all: beyond this, all cells
    # together, they are dropped (grading/nbgrader_plugin.ExecuteUntilStuck).
    kernel_total_bytes: int = 64 * MiB
    # The student's own run, kept for TAs and for what Check 3d printed (intake/repair.py): a code cell whose
    # outputs are larger keeps none (the reference run's largest, p3d_figures, holds about 0.6 MiB).
    submitted_cell_bytes: int = 8 * MiB
    submitted_total_bytes: int = 48 * MiB
    # The autograded notebook, which feedback renders (workflow/grade_student.py): one output, and all.
    autograded_output_bytes: int = 2 * MiB
    autograded_total_bytes: int = 20 * MiB


OUTPUTS = OutputLimits()


# The grading processes (nbgrader, which holds what the kernel sends, and the trusted checks,
# which load what probes return): a flood must fail that student's grading, not the machine.
TRUSTED_CHECKS_MEMORY_BYTES = 8 * GiB


def limit_grading_memory() -> None:
    """Apply TRUSTED_CHECKS_MEMORY_BYTES to this process (a preexec_fn for nbgrader and the checks' pytest).

    Only the soft limit: the sandboxes it starts set their own, lower ones.
    """
    hard = resource.getrlimit(resource.RLIMIT_DATA)[1]
    soft = TRUSTED_CHECKS_MEMORY_BYTES if hard == resource.RLIM_INFINITY else min(TRUSTED_CHECKS_MEMORY_BYTES, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))
# The largest tensor a probe may hand back (the biggest honest one is 64 MiB less).
MAX_RESULT_BYTES = 64 * MiB
