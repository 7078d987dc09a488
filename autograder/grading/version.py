"""The grader's version: a hash of exactly what decides a score.

A class run regrades a student whose notebook or grader version changed since the last run
(workflow/grade_class.py), so the version must change with every file that can change a score
and with nothing else: editing the TA pages, the feedback's look or a benchmark regrades no one.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from assignment.paths import NBGRADER_CONFIG, RELEASE_NOTEBOOK, REPO_ROOT

# Relative to the repository root. A folder stands for every .py file under it.
DECIDES_A_SCORE = (
    "autograder/grading",          # the nbgrader preprocessors, extraction, scoring, the record
    "autograder/checks",           # the hidden checks and their thresholds
    "autograder/sandbox",          # what students' code may see and do, and its limits
    "autograder/intake",           # how a download becomes the notebook nbgrader grades
    "assignment/notebooks.py",     # which cells are check cells, solution cells, answers
    "assignment/grader_view.py",   # which of a notebook's statements the checks run
    RELEASE_NOTEBOOK.relative_to(REPO_ROOT).as_posix(),   # the trusted cells and their points
    NBGRADER_CONFIG.name,          # nbgrader's preprocessors, time limits, stubs
)


def scored_files(root: Path = REPO_ROOT) -> list[Path]:
    """Every file DECIDES_A_SCORE names, under `root`, in a stable order."""
    files: list[Path] = []
    for name in DECIDES_A_SCORE:
        path = root / name
        files += sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts) if path.is_dir() else [path]
    return files


def grader_version(root: Path = REPO_ROOT) -> str:
    """16 hex digits that change whenever a file that decides a score does."""
    digest = hashlib.sha256()
    for path in scored_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]
