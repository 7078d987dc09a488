"""Feedback for students: nbgrader's HTML, with a summary of every part on top.

nbgrader renders the autograded notebook (check cells as released, with our plain-words
report as their output: see ShowReleasedChecks below and grading's HiddenChecks). We add, above it, a table of
each part's score and what grading did to the notebook (repairs, cells that did not run), so
a student sees at a glance where the points went. Nothing here reads hidden checks or the
instructor's source: only the gradebook and our per-student report.
"""
from __future__ import annotations

import html
from collections import defaultdict
from pathlib import Path

from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import NbGraderPreprocessor

from assignment import notebooks
from assignment.parts import PARTS, part_of
from assignment.paths import ASSIGNMENT, RELEASE_NOTEBOOK

from autograder.course import NOTEBOOK, Course
from autograder.workflow.grade_class import load_report

MARKER = "<!-- vae-feedback-summary -->"


# --- nbgrader's GenerateFeedback preprocessors (nbgrader_config.py) ---------------------------------

class ShowReleasedChecks(NbGraderPreprocessor):
    """For feedback: every check cell shows the code students were given, never the hidden tests.

    nbgrader's feedback shows the autograded notebook, whose check cells hold the hidden tests
    again (nbgrader #917). Taking each check cell's source from the trusted release, by grade
    id, leaves nothing to strip and nothing a student could break with a stray delimiter.
    """

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        released = notebooks.cells_by_grade_id(notebooks.read(RELEASE_NOTEBOOK))
        for cell in nb.cells:
            grade_id = notebooks.nbgrader_meta(cell).get("grade_id")
            if grade_id in released and notebooks.is_autograded_test(released[grade_id]):
                cell.source = released[grade_id].source
        return nb, resources


class ShowSubmittedRun(NbGraderPreprocessor):
    """For feedback: each figure cell a question discusses shows the student's own run, then the grader's.

    The autograded notebook holds nbgrader's fast-mode re-execution, whose figures are not the
    student's results. The submitted notebook (nbgrader's `submitted` folder) holds their own run;
    only its PNG images and printed text are copied (review.evidence), labelled as submitted.
    """

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        from assignment.parts import QUESTIONS
        from autograder.course import nbgrader_course
        from autograder.staff.review import CHECK_RUN_BUDGET, evidence

        path = nbgrader_course(self.config).submitted(resources.get("nbgrader", {}).get("student", ""))
        try:
            submitted = notebooks.read(path)
        except Exception:
            submitted = None
        figure_cells = {cell for question in QUESTIONS for cell in question.figures}
        for cell in nb.cells:
            grade_id = notebooks.nbgrader_meta(cell).get("grade_id")
            if grade_id not in figure_cells or cell.cell_type != "code":
                continue
            own = evidence(submitted, (grade_id,)) if submitted is not None else None
            shown = [new_output("stream", name="stdout", text="▶ As you submitted it (your own run):\n")]
            if own is None or not (own.figures or own.printed):
                shown.append(new_output("stream", name="stdout", text="  no figure submitted: this cell had no outputs "
                                        "in the notebook you handed in, so your TA sees only the check run below.\n"))
            else:
                shown += [new_output("stream", name="stdout", text=text) for _, text in own.printed]
                shown += [new_output("display_data", data={"image/png": figure.png_base64, "text/plain": "<Figure>"})
                          for figure in own.figures]
            shown.append(new_output("stream", name="stdout",
                                    text=f"▶ The grader's short check run ({CHECK_RUN_BUDGET}; not your results):\n"))
            cell.outputs = shown + list(cell.get("outputs", []))
        return nb, resources



def part_scores(course: Course, student: str) -> dict[str, tuple[float | None, float]]:
    """part id -> (score, or None while a TA has not graded it yet; max points)."""
    totals: dict[str, list] = defaultdict(lambda: [0.0, 0.0, False])
    with course.gradebook() as gradebook:
        try:
            graded = gradebook.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student)
        except MissingEntry:
            return {}
        for grade in graded.grades:
            entry = totals[part_of(grade.name)]
            entry[0] += grade.score or 0.0
            entry[1] += grade.max_score
            entry[2] |= bool(grade.needs_manual_grade)
    return {part: (None if pending else round(score, 2), maximum) for part, (score, maximum, pending) in totals.items()}


def summary_html(course: Course, student: str) -> str:
    titles = {part.id: part.title for part in PARTS}
    rows = []
    for part, (score, maximum) in sorted(part_scores(course, student).items()):
        shown = "waiting for a TA" if score is None else f"{score:g} / {maximum:g}"
        rows.append(f"<tr><td>{html.escape(part[1:])}</td><td>{html.escape(titles.get(part, ''))}</td>"
                    f"<td style='text-align:right'>{shown}</td></tr>")
    report = load_report(course, student)
    notes = []
    if report is not None:
        notes = [*report.notes, *(f"repaired: {r}" for r in report.repairs)]
    items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return (f"{MARKER}<div style='font-family:sans-serif;max-width:60em;margin:1em auto;padding:1em;"
            "border:1px solid #ccc;border-radius:6px;background:#fafafa'>"
            f"<h2 style='margin-top:0'>VAE assignment: your scores</h2><table style='border-collapse:collapse'>"
            "<tr><th style='text-align:left'>part</th><th style='text-align:left'>what</th><th>score</th></tr>"
            + "".join(rows) + "</table>"
            + (f"<h3>What grading did to your notebook</h3><ul>{items}</ul>" if items else "")
            + "<p>Each check cell below shows the hidden checks' report: what passed, and for each check that "
              "failed, what was wrong.</p></div>")


def add_summary(course: Course, student: str) -> Path | None:
    path = course.feedback(student)
    if not path.exists():
        return None
    text = path.read_text(encoding="utf-8")
    if MARKER not in text:
        body = text.find("<body")
        cut = text.find(">", body) + 1 if body >= 0 else 0
        text = text[:cut] + summary_html(course, student) + text[cut:]
        path.write_text(text, encoding="utf-8")
    return path


def generate_feedback(course: Course, students: list[str]) -> dict[str, Path]:
    """nbgrader's feedback for every autograded student, with the summary on top; student -> HTML file.

    One nbgrader run for the class (it skips students it cannot render and says so in its log).
    """
    course.nbgrader(["generate_feedback", ASSIGNMENT, "--force"], check=False)
    written = {student: add_summary(course, student) for student in students}
    return {student: path for student, path in written.items() if path is not None}
