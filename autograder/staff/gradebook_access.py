"""Shared access to a course's nbgrader gradebook for the TA tools (review, manual scores, export).

Every read and write goes through nbgrader's own `Gradebook` API, so that the tools see
exactly what formgrader and `nbgrader export` see, and work on sqlite and PostgreSQL alike.
"""
from __future__ import annotations

import csv
import hashlib
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from assignment.paths import ASSIGNMENT

from autograder.course import NOTEBOOK


def submitted_students(gradebook: Gradebook) -> list[str]:
    """Ids of the students with a submission of this assignment, sorted."""
    return sorted(s.student.id for s in gradebook.find_assignment(ASSIGNMENT).submissions)


def manual_grade_ids(gradebook: Gradebook) -> set[str]:
    """Grade ids of manually graded answers: grade cells that are also solution cells (nbgrader's definition)."""
    notebook = gradebook.find_notebook(NOTEBOOK, ASSIGNMENT)
    solutions = {cell.name for cell in notebook.solution_cells}
    return {cell.name for cell in notebook.grade_cells if cell.name in solutions}


def max_points(gradebook: Gradebook) -> dict[str, float]:
    """Points of every grade cell, from the gradebook (what nbgrader totals against)."""
    return {cell.name: float(cell.max_score) for cell in gradebook.find_notebook(NOTEBOOK, ASSIGNMENT).grade_cells}


def find_grade_or_none(gradebook: Gradebook, grade_id: str, student: str):
    try:
        return gradebook.find_grade(grade_id, NOTEBOOK, ASSIGNMENT, student)
    except MissingEntry:
        return None


def find_comment_or_none(gradebook: Gradebook, grade_id: str, student: str):
    try:
        return gradebook.find_comment(grade_id, NOTEBOOK, ASSIGNMENT, student)
    except MissingEntry:
        return None


def format_points(value: float | None) -> str:
    """2.0 -> "2", 2.5 -> "2.5", None -> "": how a TA writes points in a spreadsheet."""
    return "" if value is None else f"{value:g}"


# Pseudonyms -----------------------------------------------------------------------------------------

PSEUDONYM_COLUMNS = ("pseudonym", "student_id")


def make_pseudonyms(students: list[str], existing: dict[str, str] | None = None) -> dict[str, str]:
    """student id -> "student-NN", numbered in the order of a hash of the id so that it is not alphabetical.

    Students already in `existing` keep their pseudonym, and newcomers get the next numbers, so
    that re-running the review after a late submission does not relabel anyone: a CSV filled in
    against the old pages still maps to the right students.
    """
    mapping = {s: p for s, p in (existing or {}).items() if s in students}
    newcomers = sorted((s for s in students if s not in mapping), key=lambda s: hashlib.sha256(s.encode()).hexdigest())
    number = max((int(p.rsplit("-", 1)[1]) for p in mapping.values()), default=0)
    width = max(2, len(str(number + len(newcomers))))
    for student in newcomers:
        number += 1
        mapping[student] = f"student-{number:0{width}d}"
    return mapping


def read_pseudonyms(path: Path) -> dict[str, str]:
    """pseudonym -> real student id, from a pseudonyms.csv written by the review."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    if rows and not set(PSEUDONYM_COLUMNS) <= set(rows[0]):
        raise ValueError(f"{path} is not a pseudonym map: it needs the columns {', '.join(PSEUDONYM_COLUMNS)}")
    return {row["pseudonym"].strip(): row["student_id"].strip() for row in rows}


def write_pseudonyms(path: Path, mapping: dict[str, str]) -> Path:
    """Write student id -> pseudonym as pseudonym,student_id rows, sorted by pseudonym."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(PSEUDONYM_COLUMNS)
        for student, pseudonym in sorted(mapping.items(), key=lambda item: item[1]):
            writer.writerow([pseudonym, student])
    return path
