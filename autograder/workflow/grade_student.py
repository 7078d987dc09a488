"""Grade one student: real `nbgrader autograde` in a scratch course of its own, the kernel confined.

The scratch course holds only this student's (repaired) notebook and a gradebook that knows
the assignment and nothing else. nbgrader runs there in a clean environment (no grader
secrets), under a wall-time limit; the kernel and the probes run confined by the sandbox policy
(autograder/sandbox/policy.py), selected by nbgrader_config.py. When it is done, the scores are
read from the scratch gradebook, which the kernel could not see, and copied into the course's
gradebook by the caller (one writer, so sqlite stays safe however many students grade at once).
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import nbformat.v4
from nbformat import NotebookNode
from nbgrader.api import MissingEntry

from assignment import notebooks
from assignment.nbgrader_cli import NBGRADER, generate_release, lay_out_course
from assignment.paths import ASSIGNMENT, NBGRADER_CONFIG, REPO_ROOT, mnist_root

from autograder.course import NOTEBOOK, Course
from autograder.grading import record as R
from autograder.sandbox import policy
from autograder.sandbox.kernel import SOCKETS_PARENT, make_sockets_parent
from autograder.sandbox.limits import OUTPUTS, GradingLimits, limit_grading_memory
from autograder.sandbox.processes import remove_tree, wait_then_kill_group
from autograder.sandbox.runner import PROBES_PARENT

logger = logging.getLogger(__name__)


# The grading machine, not the notebook, stopped this grading (a full disk, /tmp not writable): the student's
# earlier results stand, and the next run grades them again.
MACHINE_ERROR = "machine error"


@dataclass
class Graded:
    """What grading one student produced, before it is merged into the course."""
    status: str                                  # graded | failed | timed out | machine error
    reason: str = ""                             # plain words when not graded
    scores: dict[str, float] = field(default_factory=dict)    # grade id -> auto score
    notes: list[str] = field(default_factory=list)            # what happened while executing the notebook
    flags: list[str] = field(default_factory=list)            # for a TA
    seconds: float = 0.0
    scratch: Path | None = None                  # the scratch course (autograded notebook, record, gradebook)
    log: Path | None = None                      # nbgrader's log of this grading, in the scratch course

    @property
    def course(self) -> Course | None:
        return None if self.scratch is None else Course(self.scratch)


def make_template_gradebook(workdir: Path) -> Path:
    """A gradebook that knows the assignment (generate_assignment) and no student."""
    course = workdir / "template-course"
    lay_out_course(course)
    generate_release(course)
    return course / "gradebook.db"


def _scratch_course(student: str, notebook: NotebookNode, template: Path, parent: Path) -> Path:
    scratch = Path(tempfile.mkdtemp(prefix=f"{student}-", dir=parent))
    course = Course(scratch)
    shutil.copy2(NBGRADER_CONFIG, scratch / NBGRADER_CONFIG.name)
    shutil.copy2(template, course.gradebook_file)
    course.submitted(student).parent.mkdir(parents=True)
    nbformat.write(notebook, str(course.submitted(student)))
    (scratch / "autograded").mkdir()
    (scratch / "home").mkdir()
    (scratch / "tmp").mkdir()
    (scratch / "probes").mkdir()   # PROBES_PARENT
    return scratch


def _environment(scratch: Path, sockets: Path) -> dict[str, str]:
    """A clean environment: what nbgrader, Jupyter and torch need, and nothing of the grader's own."""
    return {"PATH": os.pathsep.join([str(Path(sys.executable).parent), os.defpath]),
            "HOME": str(scratch / "home"), "LANG": "C.UTF-8",   # no MPLBACKEND: the kernel's inline plots
            "TMPDIR": str(scratch / "tmp"),
            "JUPYTER_PATH": str(scratch / "jupyter"), "JUPYTER_RUNTIME_DIR": str(scratch / "runtime"),
            "JUPYTER_CONFIG_DIR": str(scratch / "jupyter-config"), "JUPYTER_PLATFORM_DIRS": "1",
            "IPYTHONDIR": str(scratch / "ipython"), "MNIST_ROOT": str(mnist_root()),
            "PYTHONPATH": str(REPO_ROOT),   # this checkout's grading code, whatever else is installed
            # no bytecode caches: a .pyc is checked against its source's mtime in whole seconds and its size, so a
            # same-size edit of a check (or a bundle unpacked with fixed dates) could grade with the old code
            "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1", SOCKETS_PARENT: str(sockets),
            PROBES_PARENT: str(scratch / "probes")}


def grade(student: str, notebook: NotebookNode, template: Path, parent: Path,
          limits: GradingLimits = GradingLimits()) -> Graded:
    """Autograde `notebook` as `student` in a scratch course under `parent`; never raises for the student's sake.

    The student's code sees only what the sandbox policy allows (the Python environment and the
    data), wherever the course, this repository or `parent` are.
    """
    started = time.perf_counter()
    try:
        scratch = _scratch_course(student, notebook, template, parent)
    except OSError as e:
        # `parent` is often a temporary folder of this run, gone when it ends: name where it lives
        return Graded(MACHINE_ERROR, f"the grader could not write this student's scratch course ({e}); free space in "
                                     f"{parent.parent}, or make it writable (the class command makes its scratch courses "
                                     "in TMPDIR, default /tmp), then grade again", seconds=time.perf_counter() - started)
    try:
        sockets = make_sockets_parent(scratch)
    except OSError as e:
        return Graded(MACHINE_ERROR, f"{e}, then grade again", seconds=time.perf_counter() - started, scratch=scratch)
    command = [*NBGRADER, "autograde", ASSIGNMENT, "--student", student,
               "--create", "--force", f"--Execute.timeout={limits.cell_seconds}",
               *(["--Sandbox.unconfined=True"] if limits.unconfined else [])]
    log = scratch / "nbgrader.log"   # kept by the caller (Course.log) whatever the outcome
    started_read = started_write = None
    try:
        try:
            if not limits.unconfined:   # the folders confined code may write in: in memory, capped, this grading's alone
                started_read, started_write = os.pipe()
                command = policy.grading_command(command, {scratch / "probes": limits.probes_folder_bytes,
                                                           sockets: limits.sockets_folder_bytes}, started_write)
            with open(log, "wb") as out:   # nbgrader keeps its own copy
                process = subprocess.Popen(command, cwd=scratch, env=_environment(scratch, sockets),
                                           stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                           start_new_session=True, preexec_fn=limit_grading_memory,
                                           pass_fds=() if started_write is None else (started_write,))
        except OSError as e:   # no descriptor, process or file to spare: this machine, not the notebook
            return Graded(MACHINE_ERROR, f"the grader could not start nbgrader ({e}); fix that (free memory, "
                                         "processes or open files, or mend the folder it names), then grade again",
                          seconds=time.perf_counter() - started, scratch=scratch, log=log if log.exists() else None)
        if started_write is not None:
            os.close(started_write)
            started_write = None
        # The kernel and the probes die with nbgrader (bubblewrap's --die-with-parent).
        timed_out = wait_then_kill_group(process, limits.seconds)
        started_up = limits.unconfined or policy.grading_started(started_read)
    finally:   # the kernel's sockets, which a nbgrader killed at the time limit leaves
        for fd in (started_read, started_write):
            if fd is not None:
                os.close(fd)
        if not remove_tree(sockets):
            logger.warning("%s: could not remove the kernel's sockets folder %s; remove it by hand", student, sockets)
    seconds = time.perf_counter() - started
    if not started_up:
        return Graded(MACHINE_ERROR, f"the grader could not start nbgrader with its private folders ({_last_line(log)}); "
                                     "fix what bubblewrap says, then grade again", seconds=seconds, scratch=scratch, log=log)
    if timed_out:
        return Graded("timed out", f"grading did not finish within {limits.seconds:g} s and was stopped "
                                   "(an endless loop that no cell time limit caught, or far too slow)",
                      seconds=seconds, scratch=scratch, log=log)
    course = Course(scratch)
    scores = _scores(course, student)
    if scores is None:
        return Graded("failed", "nbgrader could not grade this notebook: " + _last_error(log),
                      seconds=seconds, scratch=scratch, log=log)
    try:
        record = R.GradingRecord.read(course.record(student))
    except R.RecordError as e:
        return Graded("failed", f"nbgrader graded this notebook but its grading record is unreadable: {e}",
                      seconds=seconds, scratch=scratch, log=log)
    graded = Graded("graded", scores=scores, seconds=seconds, scratch=scratch, log=log)
    _read_execution(record, graded)
    _cap_outputs(course.autograded(student), graded)
    return graded


def _scores(course: Course, student: str) -> dict[str, float] | None:
    """Auto scores from the scratch gradebook (hidden from the kernel), or None when grading did not finish."""
    if not course.autograded(student).exists():
        return None
    try:
        with course.gradebook() as gradebook:
            submitted = gradebook.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student)
            scores = {g.name: float(g.auto_score or 0.0) for g in submitted.grades if g.cell_type == "code"}
    except MissingEntry:
        return None
    return scores or None


def _last_line(log: Path) -> str:
    lines = log_tail(log, 4096).decode(errors="replace").strip().splitlines()
    return (lines[-1] if lines else "no message")[:400]


def log_tail(log: Path, size: int) -> bytes:
    """The last `size` bytes of nbgrader's log (however long the log grew, only those are read)."""
    with open(log, "rb") as f:
        f.seek(max(0, f.seek(0, 2) - size))
        return f.read()


def _last_error(log: Path) -> str:
    lines = [line for line in log_tail(log, 64 * 2**10).decode(errors="replace").splitlines()
             if "ERROR" in line or "Error" in line]
    return (lines[-1].split("]", 1)[-1].strip() if lines else "nbgrader stopped without saying why")[:400]


def _read_execution(record: R.GradingRecord, graded: Graded) -> None:
    """What happened while the notebook ran (the record's execution events), for the student's report and the TA."""
    for event in record.events:
        where = event.where
        if event.error == R.DEAD_KERNEL:
            graded.notes.append(f"the notebook's kernel died while the grader ran {where}; later cells did not run")
            graded.flags.append(f"the kernel died while the grader ran {where} (os._exit, a kill, or out of memory; "
                                "possibly started by an earlier cell)")
        elif event.error == R.UNREADABLE_MESSAGE:
            graded.notes.append(f"in {where} the kernel sent a message the grader could not read; later cells "
                                "did not run")
            graded.flags.append(f"the kernel sent an unreadable message in {where} (a forged message?)")
        elif event.error == R.CELL_TIMEOUT:   # nbgrader interrupts the cell, and the grader runs no later cell
            graded.notes.append(f"{where} did not finish within the time limit; later cells did not run")


def _cap_outputs(path: Path, graded: Graded) -> None:
    """Cut outputs too large to keep (nbgrader's LimitOutput counts lines, not bytes: one line of 50 MB passes).

    Check cells keep theirs (the hidden checks' report); other outputs above the caps are replaced by a note.
    """
    nb = notebooks.read(path)
    total, cut = 0, 0
    for cell in nb.cells:
        if cell.cell_type != "code" or notebooks.is_autograded_test(cell):
            continue
        kept = []
        for output in cell.get("outputs", []):
            size = len(json.dumps(output))
            if size > OUTPUTS.autograded_output_bytes or total + size > OUTPUTS.autograded_total_bytes:
                cut += size
                text = output.get("text", "") if output.output_type == "stream" else ""
                output = nbformat.v4.new_output("stream", name="stdout", text=(
                    text[:2000] + f"\n[... an output of {size / 2**20:.1f} MB was cut here by the grader]\n"))
                size = len(json.dumps(output))
            total += size
            kept.append(output)
        cell.outputs = kept
    if cut:
        nbformat.write(nb, str(path))
        graded.notes.append(f"{cut / 2**20:.0f} MB of your notebook's outputs were too large to keep and were cut")
