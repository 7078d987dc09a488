"""The grader's version: a hash of exactly what decides a score.

A class run regrades a student whose notebook or grader version changed since the last run
(workflow/grade_class.py), so the version must change with every file that can change a score
and with nothing else: editing the TA pages, the feedback's look or a benchmark regrades no one.
The hidden checks' pytest reads nothing outside autograder/checks (checks/pytest.ini), so the
project's pyproject.toml is not among these.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from assignment.paths import NBGRADER_CONFIG, RELEASE_NOTEBOOK, REPO_ROOT, SOURCE_NOTEBOOK

# Relative to the repository root. A folder stands for every file under it.
DECIDES_A_SCORE = (
    "autograder/grading",                  # the nbgrader preprocessors, extraction, scoring, the record
    "autograder/checks",                   # the hidden checks, their thresholds, their pytest configuration
    "autograder/sandbox",                  # what students' code may see and do, and its limits
    "autograder/intake",                   # how a download becomes the notebook nbgrader grades
    "autograder/workflow/grade_student.py",   # how nbgrader is run for one student (options, environment)
    "autograder/workflow/grade_class.py",     # what of it reaches the course's gradebook
    "assignment/notebooks.py",             # which cells are check cells, solution cells, answers
    "assignment/grader_view.py",           # which of a notebook's statements the checks run
    "assignment/environment.py",           # the environment of nbgrader and of the checks' pytest
    SOURCE_NOTEBOOK.relative_to(REPO_ROOT).as_posix(),    # the gradebook's cells and points (generate_assignment)
    RELEASE_NOTEBOOK.relative_to(REPO_ROOT).as_posix(),   # the trusted cells and their points
    NBGRADER_CONFIG.name,                  # nbgrader's preprocessors, time limits, stubs
)


def scored_files(root: Path = REPO_ROOT) -> list[Path]:
    """Every file DECIDES_A_SCORE names, under `root`, in a stable order."""
    files: list[Path] = []
    for name in DECIDES_A_SCORE:
        path = root / name
        files += sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                        and p.suffix != ".pyc") if path.is_dir() else [path]
    return files


def grader_version(root: Path = REPO_ROOT) -> str:
    """16 hex digits that change whenever a file that decides a score does."""
    digest = hashlib.sha256()
    for path in scored_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]
