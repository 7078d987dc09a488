"""Per-student, per-part scores as a CSV: what `nbgrader export` (totals only) does not give.

One row per student in the gradebook. For every part of `assignment.parts.PARTS` worth points:
`<part>_auto` (points from the autograded check cells), `<part>_manual` (points from the TA on
the inline answers) and `<part>_max`; then `total` and `max_total`. The columns are nbgrader's
own per-cell score (a TA's manual score overrides the autograder's, as in formgrader), so
`total` equals nbgrader's total. A cell belongs to a part by its grade id's prefix
(`assignment.parts.part_of`).

Empty means "nothing to report" rather than zero: no submission (every score empty), a part
without check cells (`_auto`), or without answers or with none graded yet (`_manual`). Answers
not graded yet count 0 in `total`, as in nbgrader, and are listed in `ungraded`, so that a
half-graded student is not mistaken for a finished one.
"""
from __future__ import annotations

import csv
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from assignment.parts import PARTS, part_of
from assignment.paths import ASSIGNMENT

from autograder.course import Course
from autograder.staff.gradebook_access import NOTEBOOK, format_points, manual_grade_ids, max_points

SCORED_PARTS = tuple(part for part in PARTS if part.points > 0)


def export_scores(course: Course, out_csv: Path) -> Path:
    """Write the per-part CSV of every student in the gradebook to out_csv; return its path."""
    out_csv = Path(out_csv)
    with course.existing_gradebook() as gradebook:
        points = max_points(gradebook)
        manual = manual_grade_ids(gradebook)
        rows = [_student_row(gradebook, s.id, points, manual) for s in sorted(gradebook.students, key=lambda s: s.id)]
    header = ["student_id"]
    for part in SCORED_PARTS:
        header += [f"{part.id}_auto", f"{part.id}_manual", f"{part.id}_max"]
    header += ["total", "max_total", "ungraded"]
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    with open(out_csv, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return out_csv


def _student_row(gradebook: Gradebook, student: str, points: dict[str, float], manual: set[str]) -> dict[str, str]:
    row = {"student_id": student}
    try:
        grades = {g.name: g for g in gradebook.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student).grades}
    except MissingEntry:
        grades = None   # no submission: maxima only
    ungraded = sorted(name for name, g in (grades or {}).items()
                      if name in manual and g.manual_score is None and g.auto_score is None)
    for part in SCORED_PARTS:
        cells = [name for name in points if part_of(name) == part.id]
        auto_cells = [name for name in cells if name not in manual]
        manual_cells = [name for name in cells if name in manual]
        row[f"{part.id}_max"] = format_points(sum(points[name] for name in cells))
        row[f"{part.id}_auto"] = _sum_scores(grades, auto_cells)
        row[f"{part.id}_manual"] = _sum_scores(grades, [c for c in manual_cells if c not in ungraded])
    row["max_total"] = format_points(sum(points.values()))
    row["total"] = "" if grades is None else format_points(sum(float(g.score) for g in grades.values()))
    row["ungraded"] = " ".join(ungraded)
    return row


def _sum_scores(grades: dict | None, cells: list[str]) -> str:
    """Sum of nbgrader's score over cells; empty when there is no submission or no such cell."""
    if grades is None or not cells or not any(name in grades for name in cells):
        return ""
    return format_points(sum(float(grades[name].score) for name in cells if name in grades))
