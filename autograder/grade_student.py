"""Grade one student: real `nbgrader autograde` in a scratch course of its own, the kernel jailed.

The scratch course holds only this student's (repaired) notebook and a gradebook that knows
the assignment and nothing else. nbgrader runs there with no network and a clean
environment (no grader secrets), under a wall-time limit; the kernel runs in the jail of
autograder/jail.py. When it is done, the scores are read from the scratch gradebook, which
the kernel could not see, and copied into the course's gradebook by the caller (one writer,
so sqlite stays safe however many students grade at once).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader.api import Gradebook, MissingEntry

from assignment import notebooks
from assignment.nbgrader_cli import generate_release, lay_out_course
from assignment.paths import ASSIGNMENT, NBGRADER_CONFIG, REPO_ROOT, mnist_root

from . import jail

NOTEBOOK_FILE = f"{ASSIGNMENT}.ipynb"


@dataclass(frozen=True)
class GradingLimits:
    seconds: float = 600.0       # the whole of one student's grading (execution and hidden checks)
    cell_seconds: int = 120      # one cell of the notebook (fast mode: the slowest takes a few seconds)
    kernel: jail.KernelLimits = jail.KernelLimits()


@dataclass
class Graded:
    """What grading one student produced, before it is merged into the course."""
    status: str                                  # graded | failed | timed out
    reason: str = ""                             # plain words when not graded
    scores: dict[str, float] = field(default_factory=dict)    # grade id -> auto score
    notes: list[str] = field(default_factory=list)            # what happened while executing the notebook
    flags: list[str] = field(default_factory=list)            # for a TA
    seconds: float = 0.0
    scratch: Path | None = None                  # the scratch course (autograded notebook, gradebook)

    @property
    def autograded(self) -> Path | None:
        return None if self.scratch is None else self.scratch / "autograded"


def make_template_gradebook(workdir: Path) -> Path:
    """A gradebook that knows the assignment (generate_assignment) and no student."""
    course = workdir / "template-course"
    lay_out_course(course)
    generate_release(course)
    return course / "gradebook.db"


def _scratch_course(student: str, notebook: NotebookNode, template: Path, parent: Path) -> Path:
    scratch = Path(tempfile.mkdtemp(prefix=f"{student}-", dir=parent))
    shutil.copy2(NBGRADER_CONFIG, scratch / NBGRADER_CONFIG.name)
    for package in ("assignment", "autograder"):
        (scratch / package).symlink_to(REPO_ROOT / package)
    shutil.copy2(template, scratch / "gradebook.db")
    submitted = scratch / "submitted" / student / ASSIGNMENT
    submitted.mkdir(parents=True)
    nbformat.write(notebook, str(submitted / NOTEBOOK_FILE))
    (scratch / "autograded").mkdir()
    (scratch / "home").mkdir()
    (scratch / "tmp").mkdir()
    return scratch


def _environment(scratch: Path) -> dict[str, str]:
    """A clean environment: what nbgrader, Jupyter and torch need, and nothing of the grader's own."""
    return {"PATH": os.pathsep.join([str(Path(sys.executable).parent), os.defpath]),
            "HOME": str(scratch / "home"), "LANG": "C.UTF-8",   # no MPLBACKEND: the kernel's inline plots
            "TMPDIR": str(scratch / "tmp"),   # Jupyter's connection files: the jailed kernel gets a fresh /tmp
            "JUPYTER_PATH": str(scratch / "jupyter"), "JUPYTER_RUNTIME_DIR": str(scratch / "runtime"),
            "JUPYTER_CONFIG_DIR": str(scratch / "jupyter-config"), "JUPYTER_PLATFORM_DIRS": "1",
            "IPYTHONDIR": str(scratch / "ipython"), "MNIST_ROOT": str(mnist_root()),
            "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"}


def grade(student: str, notebook: NotebookNode, template: Path, parent: Path, course_roots: list[Path],
          limits: GradingLimits = GradingLimits()) -> Graded:
    """Autograde `notebook` as `student` in a scratch course under `parent`; never raises for the student's sake."""
    started = time.perf_counter()
    scratch = _scratch_course(student, notebook, template, parent)
    jail.install_kernelspec(scratch / "jupyter", jail.kernel_argv(
        scratch, scratch / "autograded", jail.hidden_paths(course_roots, scratch), limits.kernel))
    command = jail.network_off([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--student", student,
                                "--create", "--force", f"--Execute.timeout={limits.cell_seconds}"])
    log = scratch / "nbgrader.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=scratch, env=_environment(scratch), stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            process.wait(timeout=limits.seconds)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            try:
                os.killpg(process.pid, signal.SIGKILL)   # whatever is left of nbgrader, its kernel and probes
            except ProcessLookupError:
                pass
            process.wait()
    seconds = time.perf_counter() - started
    if timed_out:
        return Graded("timed out", f"grading did not finish within {limits.seconds:g} s and was stopped "
                                   "(an endless loop that no cell time limit caught, or far too slow)",
                      seconds=seconds, scratch=scratch)
    scores = _scores(scratch, student)
    if scores is None:
        return Graded("failed", "nbgrader could not grade this notebook: " + _last_error(log),
                      seconds=seconds, scratch=scratch)
    graded = Graded("graded", scores=scores, seconds=seconds, scratch=scratch)
    _read_execution(scratch / "autograded" / student / ASSIGNMENT / NOTEBOOK_FILE, graded)
    return graded


def _scores(scratch: Path, student: str) -> dict[str, float] | None:
    """Auto scores from the scratch gradebook (hidden from the kernel), or None when grading did not finish."""
    autograded = scratch / "autograded" / student / ASSIGNMENT / NOTEBOOK_FILE
    if not autograded.exists():
        return None
    try:
        with Gradebook(f"sqlite:///{scratch / 'gradebook.db'}") as gradebook:
            submitted = gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
            scores = {g.name: float(g.auto_score or 0.0) for g in submitted.grades if g.cell_type == "code"}
    except MissingEntry:
        return None
    return scores or None


def _last_error(log: Path) -> str:
    lines = [line for line in log.read_text(errors="replace").splitlines() if "ERROR" in line or "Error" in line]
    return (lines[-1].split("]", 1)[-1].strip() if lines else "see nbgrader.log")[:400]


def _read_execution(path: Path, graded: Graded) -> None:
    """What happened while the notebook ran, for the student's report and the TA."""
    nb = notebooks.read(path)
    for cell in nb.cells:
        grade_id = notebooks.nbgrader_meta(cell).get("grade_id", "an ungraded cell")
        for output in cell.get("outputs", []):
            if output.output_type != "error":
                continue
            if output.ename == "DeadKernelError":
                graded.notes.append(f"the notebook's kernel died in cell {grade_id}; later cells did not run")
                graded.flags.append(f"the kernel died in cell {grade_id} (os._exit, a kill, or out of memory)")
            elif output.ename == "CellTimeoutError":
                graded.notes.append(f"cell {grade_id} did not finish within the time limit; later cells did not run")
