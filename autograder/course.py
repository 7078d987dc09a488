"""A course directory that nbgrader grades in: the one builder of its paths and of its gradebook's URL.

The default course is this repository's root (its `nbgrader_config.py`, `gradebook.db`,
`submitted/`, `autograded/`, `feedback/`, all git-ignored). Any other folder works too: it is
laid out on first use (assignment.nbgrader_cli.lay_out_course). A scratch course of one
student (workflow/grade_student.py) is a Course too. Every module asks a Course for a path or
a gradebook; none joins folder names itself.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from assignment.nbgrader_cli import lay_out_course, run_nbgrader
from assignment.paths import ASSIGNMENT, NOTEBOOK_NAME, REPO_ROOT

NOTEBOOK = Path(NOTEBOOK_NAME).stem   # nbgrader's name of a notebook: its file name without .ipynb


def _venv_bin_on_path() -> None:
    """nbgrader's Gradebook runs `alembic` from PATH whenever it opens a database: make it this environment's,
    whatever PATH the grader was started with (a venv used without activating it)."""
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])


@dataclass(frozen=True)
class Course:
    """Where a class is graded. `db_url` overrides the sqlite gradebook (e.g. postgresql://...)."""
    root: Path = REPO_ROOT
    db_url: str | None = None

    # --- nbgrader's folders -------------------------------------------------------------------
    def submitted(self, student: str) -> Path:
        """The notebook nbgrader grades (nbgrader's `submitted` folder): as the student ran it."""
        return self.root / "submitted" / student / ASSIGNMENT / NOTEBOOK_NAME

    def autograded(self, student: str) -> Path:
        """The notebook as nbgrader re-executed it, check cells holding the hidden checks' report."""
        return self.root / "autograded" / student / ASSIGNMENT / NOTEBOOK_NAME

    def record(self, student: str) -> Path:
        """The grading record (grading/record.py) beside the autograded notebook, written by trusted code."""
        return self.autograded(student).with_suffix(".grading.json")

    def feedback(self, student: str) -> Path:
        return self.root / "feedback" / student / ASSIGNMENT / f"{NOTEBOOK}.html"

    # --- our records of grading runs ------------------------------------------------------------
    @property
    def grading_dir(self) -> Path:
        """Our own records of grading runs: manifest, per-student reports and logs, copies of originals."""
        return self.root / "grading"

    @property
    def reports_dir(self) -> Path:
        return self.grading_dir / "reports"

    def report(self, student: str) -> Path:
        """What grading said about the student (workflow/grade_class.StudentReport, JSON)."""
        return self.reports_dir / f"{student}.json"

    def log(self, student: str) -> Path:
        """nbgrader's log of the student's last grading, kept whatever its outcome."""
        return self.grading_dir / "logs" / f"{student}.log"

    def originals(self, student: str) -> Path:
        """The folder holding a byte-identical copy of what the student sent."""
        return self.grading_dir / "originals" / student

    @property
    def manifest(self) -> Path:
        return self.grading_dir / "manifest.json"

    # --- the gradebook ------------------------------------------------------------------------
    @property
    def gradebook_file(self) -> Path:
        """The sqlite gradebook, used unless `db_url` is set."""
        return self.root / "gradebook.db"

    @property
    def gradebook_url(self) -> str:
        return self.db_url or f"sqlite:///{self.gradebook_file}"

    def gradebook(self) -> Gradebook:
        _venv_bin_on_path()
        return Gradebook(self.gradebook_url)

    @contextmanager
    def existing_gradebook(self) -> Iterator[Gradebook]:
        """The gradebook of a course that has one, closed afterwards and rolled back if the block raises.

        Opening a missing sqlite file would silently create an empty gradebook, and every staff
        tool would then report "unknown student" instead of "wrong folder".
        """
        if not self.db_url and not self.gradebook_file.is_file():
            raise FileNotFoundError(f"no gradebook at {self.gradebook_file}: is {self.root} an nbgrader course root?")
        with self.gradebook() as gradebook:
            try:
                yield gradebook
            except BaseException:
                gradebook.db.rollback()
                raise

    def nbgrader(self, args: list[str], check: bool = True):
        """`nbgrader <args>` in this course, with its gradebook."""
        extra = [f"--CourseDirectory.db_url={self.db_url}"] if self.db_url else []
        return run_nbgrader([*args, *extra], self.root, check=check)


def nbgrader_course(config) -> Course:
    """The course an nbgrader preprocessor runs in (its CourseDirectory.root), from the preprocessor's config."""
    from nbgrader.coursedir import CourseDirectory
    return Course(Path(CourseDirectory(config=config).root))


def assignment_recorded(course: Course) -> bool:
    try:
        with course.gradebook() as gradebook:
            gradebook.find_assignment(ASSIGNMENT)
            return True
    except MissingEntry:
        return False


def prepare(course: Course) -> None:
    """Lay out the course and record the assignment in its gradebook (what autograding needs)."""
    lay_out_course(course.root)
    if not assignment_recorded(course):
        course.nbgrader(["generate_assignment", ASSIGNMENT, "--force"])
