"""A course directory that nbgrader grades in, and the settings of one grading run.

The default course is this repository's root (its `nbgrader_config.py`, `gradebook.db`,
`submitted/`, `autograded/`, `feedback/`, all git-ignored). Any other folder works too: it is
laid out on first use (assignment.nbgrader_cli.lay_out_course).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from assignment.nbgrader_cli import lay_out_course, run_nbgrader
from assignment.paths import ASSIGNMENT, NOTEBOOK_NAME, REPO_ROOT

NOTEBOOK = Path(NOTEBOOK_NAME).stem   # nbgrader names a notebook by its file name without .ipynb


@dataclass(frozen=True)
class Course:
    """Where a class is graded. `db_url` overrides the sqlite gradebook (e.g. postgresql://...)."""
    root: Path = REPO_ROOT
    db_url: str | None = None

    @property
    def gradebook_file(self) -> Path:
        """The sqlite gradebook, used unless `db_url` is set."""
        return self.root / "gradebook.db"

    @property
    def gradebook_url(self) -> str:
        return self.db_url or f"sqlite:///{self.gradebook_file}"

    @property
    def grading_dir(self) -> Path:
        """Our own records of grading runs: manifest, per-student reports, copies of originals."""
        return self.root / "grading"

    def submitted(self, student: str) -> Path:
        return self.root / "submitted" / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb"

    def autograded(self, student: str) -> Path:
        return self.root / "autograded" / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb"

    def feedback(self, student: str) -> Path:
        return self.root / "feedback" / student / ASSIGNMENT / f"{NOTEBOOK}.html"

    def nbgrader(self, args: list[str], check: bool = True):
        """`nbgrader <args>` in this course, with its gradebook."""
        extra = [f"--CourseDirectory.db_url={self.db_url}"] if self.db_url else []
        return run_nbgrader([*args, *extra], self.root, check=check)

    def gradebook(self) -> Gradebook:
        return Gradebook(self.gradebook_url)


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
