"""Import a TA's scores.csv (written by `autograder.staff.review`) into the nbgrader gradebook.

All or nothing: every row is checked before anything is written, and one bad row rejects the
whole file with a message that names every bad row by its line in the CSV. A half-imported file
would leave the TA unsure which scores landed; a typo in a student id or a 30 instead of a 3
must never reach the gradebook.
"""
from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook

from autograder.course import Course
from autograder.staff.gradebook_access import (find_comment_or_none, find_grade_or_none, format_points, manual_grade_ids, max_points,
                               read_pseudonyms, submitted_students)
from autograder.staff.review import SCORE_COLUMNS

_PSEUDONYM = re.compile(r"student-\d+")
_EXTRA = "\0extra fields"   # a key no CSV header can hold: how many values a row has beyond the header
REQUIRED_COLUMNS = ("student_id", "grade_id", "score", "comment")   # max_points is for the TA's eyes only


class ScoreImportError(ValueError):
    """The CSV cannot be imported; the message lists every problem, one line each, in plain words."""


@dataclass(frozen=True)
class ScoreRow:
    line: int            # line of the CSV where the row starts (the header is line 1)
    student: str         # real student id
    grade_id: str
    score: float
    comment: str | None


def import_scores(course: Course, csv_path: Path, pseudonyms: Path | None = None) -> int:
    """Write the CSV's scores and comments into the gradebook; return how many rows were imported.

    Rows with an empty score are skipped: not graded yet. For every other row the grade's
    manual_score is set, needs_manual_grade cleared and the manual comment set (an empty comment
    clears it, as the CSV was pre-filled with the existing one). With `pseudonyms` (the
    pseudonyms.csv of an anonymised review) the student_id column holds pseudonyms, mapped back
    to real ids here. Raises ScoreImportError, leaving the gradebook unchanged, if any row is bad.
    """
    aliases = read_pseudonyms(Path(pseudonyms)) if pseudonyms is not None else None
    table = _read_csv(Path(csv_path))
    with course.existing_gradebook() as gradebook:
        rows = _validate(gradebook, table, aliases, Path(csv_path).name)
        for row in rows:
            grade = find_grade_or_none(gradebook, row.grade_id, row.student)
            comment = find_comment_or_none(gradebook, row.grade_id, row.student)
            grade.manual_score = row.score
            grade.needs_manual_grade = False
            if comment is not None:
                comment.manual_comment = row.comment
        gradebook.db.commit()
    return len(rows)


def _read_csv(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) pairs; blank lines are skipped, a quoted comment may span several lines.

    utf-8-sig: spreadsheets often save a byte-order mark, which would otherwise stick to the
    first column's name.
    """
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = [name.strip() for name in next(reader, [])]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise ScoreImportError(
                f"{path.name}: line 1 (the header) lacks the column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)}. The header must be {','.join(SCORE_COLUMNS)} (comma-separated), "
                "as in the scores.csv the review wrote. Nothing was imported.")
        rows, end = [], reader.line_num
        for values in reader:
            start, end = end + 1, reader.line_num
            if not any(v.strip() for v in values):
                continue
            padded = values + [""] * (len(header) - len(values))
            row = {name: value.strip() for name, value in zip(header, padded)}
            row[_EXTRA] = str(len(values) - len(header)) if len(values) > len(header) else ""
            rows.append((start, row))
    return rows


def _validate(gradebook: Gradebook, table: list[tuple[int, dict[str, str]]], aliases: dict[str, str] | None,
              file_name: str) -> list[ScoreRow]:
    """Every row checked, every problem collected; the rows to write if there is none."""
    students = set(submitted_students(gradebook))
    known_students = {s.id for s in gradebook.students}
    questions = manual_grade_ids(gradebook)
    points = max_points(gradebook)
    problems: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    rows: list[ScoreRow] = []
    for line, row in table:
        name, grade_id, score_text = row["student_id"], row["grade_id"], row["score"]
        where = f"line {line} (student {name or '(empty)'}, question {grade_id or '(empty)'})"
        student: str | None = name
        if aliases is not None and name:
            student = aliases.get(name)
            if student is None:
                problems.append(f"{where}: the pseudonym {name} is not in the pseudonym file")
        if not name:
            student = None
            problems.append(f"{where}: the student_id is empty")
        elif student is not None and student not in known_students:
            hint = (" (it looks like a pseudonym: import with the review's pseudonyms.csv)"
                    if aliases is None and _PSEUDONYM.fullmatch(student) else "")
            problems.append(f"{where}: there is no student {student} in the gradebook{hint}")
            student = None
        elif student is not None and student not in students:
            problems.append(f"{where}: student {student} has no submission to grade")
            student = None
        if grade_id not in points:
            problems.append(f"{where}: there is no question {grade_id or '(empty)'} in this assignment")
        elif grade_id not in questions:
            problems.append(f"{where}: {grade_id} is scored by the autograder, not a manually graded question")
        if student is not None and grade_id in questions and find_grade_or_none(gradebook, grade_id, student) is None:
            problems.append(f"{where}: the gradebook has no grade for this answer (autograde the submission first)")
        if row[_EXTRA]:
            problems.append(f"{where}: the row has {row[_EXTRA]} more field(s) than the header; a comment with a "
                            "comma must be in double quotes")
        key = (student or name, grade_id)
        if key in seen:
            problems.append(f"{where}: repeats line {seen[key]} (same student and question)")
        else:
            seen[key] = line
        if not score_text:
            continue   # not graded yet; still checked above, so a typo in a skipped row is reported too
        try:
            score = float(score_text)
        except ValueError:
            problems.append(f"{where}: the score {score_text!r} is not a number")
            continue
        if not math.isfinite(score):
            problems.append(f"{where}: the score {score_text!r} is not a number")
        elif score < 0:
            problems.append(f"{where}: the score {score_text} is negative")
        elif grade_id in points and score > points[grade_id]:
            problems.append(f"{where}: the score {score_text} is above the maximum of "
                            f"{format_points(points[grade_id])} points for {grade_id}")
        elif student is not None:
            rows.append(ScoreRow(line, student, grade_id, score, row["comment"] or None))
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        listed = "\n".join(f"- {problem}" for problem in problems)
        raise ScoreImportError(f"{file_name}: {count}, so nothing was imported:\n{listed}")
    return rows
