"""The TA's round trip: review pages of every answer with its figures, a scores.csv to fill in, its import
into the gradebook (all or nothing), and the per-part export.

One real course is graded once for the module with real nbgrader (about a minute per student):
- ada_lovelace submits the solution notebook with her own run's outputs (a distinct image and a printed
  line in every figure cell a question discusses): reference answers and every figure;
- alan_turing submits the release with two answers written in, one over its word limit and one with
  markup that must be shown as text, the p4 answer cell deleted, and no code;
- grace_hopper is in the gradebook but never submitted.
Each test works on its own copy of that course, so that imports in one test never leak into another.
"""
from __future__ import annotations

import csv
import hashlib
import html
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_output

from assignment import notebooks
from assignment.nbgrader_cli import generate_release_elsewhere, run_nbgrader
from assignment.parts import QUESTIONS, word_count
from assignment.paths import RELEASE_NOTEBOOK, SOURCE_NOTEBOOK
from autograder.staff.export import export_scores
from autograder.staff.manual_scores import ScoreImportError, import_scores
from autograder.course import Course
from autograder.staff.review import (MAX_FIGURE_BASE64, MAX_FIGURES_PER_CELL, PRINTED_OUTPUT_LIMIT, evidence,
                                     render_markdown, write_review)

from tests.variants import png

SOLVER, PARTIAL, ABSENT = "ada_lovelace", "alan_turing", "grace_hopper"
SUBMITTED = (SOLVER, PARTIAL)
OVER_LIMIT_ANSWER = " ".join(f"word{n}" for n in range(160))   # p2f allows 150 words
MARKUP_ANSWER = "The posterior **collapses** to points, $\\sigma \\to 0$.\n\n<script>alert('pwned')</script>"
DELETED = "p4_answer_interpolation"
QUESTION_IDS = [q.grade_id for q in QUESTIONS]
FIGURE_CELLS = sorted({cell for q in QUESTIONS for cell in q.figures})


SUBMITTED_FIGURES = {cell: png(n) for n, cell in enumerate(FIGURE_CELLS, start=1)}   # ada's own run
SUBMITTED_PRINTED = {cell: f"ada's run of {cell}: KL = {n}.25 nats\n" for n, cell in enumerate(FIGURE_CELLS, start=1)}


def with_own_run(nb, setup_printed: str = "device: cpu, fast mode: False\n"):
    """The notebook with the outputs of a run of the student's own in every figure cell."""
    cells = notebooks.cells_by_grade_id(nb)
    cells["setup"].outputs = [new_output("stream", name="stdout", text=setup_printed)]
    for cell in FIGURE_CELLS:
        cells[cell].outputs = [new_output("stream", name="stdout", text=SUBMITTED_PRINTED[cell]),
                               new_output("display_data", data={"image/png": SUBMITTED_FIGURES[cell],
                                                                "text/plain": "<Figure>"})]
    return nb


CHROMIUM = next((p for p in (shutil.which("chromium"), "/usr/bin/chromium") if p and Path(p).exists()), None)


# The graded course --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def graded_course(tmp_path_factory) -> Path:
    course = tmp_path_factory.mktemp("graded_course")
    generate_release_elsewhere(course)
    partial = notebooks.read(RELEASE_NOTEBOOK)
    cells = notebooks.cells_by_grade_id(partial)
    cells["p2f_answer_ae_samples"].source = OVER_LIMIT_ANSWER
    cells["p3c_answer_beta0"].source = MARKUP_ANSWER
    partial.cells.remove(cells[DELETED])
    for student in SUBMITTED:
        folder = course / "submitted" / student / "vae"
        folder.mkdir(parents=True)
        if student == SOLVER:
            nbformat.write(with_own_run(notebooks.read(SOURCE_NOTEBOOK)), str(folder / "vae.ipynb"))
        else:
            nbformat.write(partial, str(folder / "vae.ipynb"))
    result = run_nbgrader(["autograde", "vae", "--create"], course, check=False)
    assert result.returncode == 0, "nbgrader autograde failed:\n" + result.stdout[-3000:] + result.stderr[-3000:]
    with Course(course).gradebook() as gradebook:
        gradebook.add_student(ABSENT)
    return course


@pytest.fixture
def course(graded_course, tmp_path) -> Path:
    """A private copy of the graded course (gradebook, submitted and autograded notebooks) for one test."""
    copy = tmp_path / "course"
    shutil.copytree(graded_course, copy, symlinks=True, ignore=shutil.ignore_patterns("release"))
    return copy


# Helpers ------------------------------------------------------------------------------------------

def db_hash(course: Path) -> str:
    return hashlib.sha256((course / "gradebook.db").read_bytes()).hexdigest()


def write_csv(path: Path, rows: list[list[str]], header=("student_id", "grade_id", "max_points", "score", "comment")):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def grade_of(course: Path, grade_id: str, student: str) -> tuple[float | None, bool, str | None]:
    """(manual score, needs manual grade, manual comment) in the gradebook."""
    with Course(course).gradebook() as gradebook:
        grade = gradebook.find_grade(grade_id, "vae", "vae", student)
        comment = gradebook.find_comment(grade_id, "vae", "vae", student)
        return grade.manual_score, grade.needs_manual_grade, comment.manual_comment


def autograded(course: Path, student: str):
    return notebooks.read(course / "autograded" / student / "vae" / "vae.ipynb")


def answer_source(course: Path, student: str, grade_id: str) -> str | None:
    cell = notebooks.cells_by_grade_id(autograded(course, student)).get(grade_id)
    return None if cell is None else cell.source


def png_outputs(course: Path, student: str, cell_ids: tuple[str, ...], folder: str = "autograded") -> int:
    cells = notebooks.cells_by_grade_id(notebooks.read(course / folder / student / "vae" / "vae.ipynb"))
    return sum("image/png" in output.get("data", {})
               for gid in cell_ids if gid in cells for output in cells[gid].get("outputs", []))


def text_of(fragment: str) -> str:
    """Visible text of an HTML fragment, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def sections(page: str) -> dict[str, str]:
    """Student name (as shown in the section heading) -> that student's section of a question page."""
    found = {}
    for match in re.finditer(r'<section class="answer[^"]*" id="s\d+">(.*?)</section>', page, re.S):
        heading = re.search(r"<h2>(.*?)</h2>", match.group(1), re.S).group(1)
        found[text_of(heading.split("<span")[0])] = match.group(0)
    return found


def data_uri_images(fragment: str, run: str | None = None) -> int:
    return len(images_of(fragment, run))


def images_of(fragment: str, run: str | None = None) -> list[str]:
    """The base64 PNGs embedded in `fragment`, of one run ("submitted" or "check-run") or of all."""
    return [data for kind, data in re.findall(
        r'<img class="figure ([\w-]+)" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', fragment) if run in (None, kind)]


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    """Headless Chromium with nothing that could reach the network."""
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


# Import and export ---------------------------------------------------------------------------------

SOLVER_SCORES = {"p2f_answer_ae_samples": "2", "p3c_answer_beta0": "3", "p3c_answer_beta10": "2.5",
                 "p3c_answer_well_tuned": "3", "p3d_answer_tuning": "2", "p4_answer_interpolation": "1"}


def test_a_valid_csv_puts_scores_and_comments_in_the_gradebook_and_the_export_shows_them_per_part(course, tmp_path):
    write_review(Course(course), tmp_path / "review")
    rows = read_csv(tmp_path / "review" / "scores.csv")
    assert len(rows) == len(SUBMITTED) * len(QUESTIONS), "scores.csv should hold one row per student and question"
    assert all(r["score"] == "" for r in rows), "nothing is graded yet, so no score should be pre-filled"
    for row in rows:
        if row["student_id"] == SOLVER:
            row["score"], row["comment"] = SOLVER_SCORES[row["grade_id"]], f"fine, {row['grade_id']}"
        elif row["grade_id"] == "p2f_answer_ae_samples":
            row["score"], row["comment"] = "1", "over the word limit: the last 10 words were not read"
        elif row["grade_id"] == "p3c_answer_beta0":
            row["score"] = "1"
        elif row["grade_id"] == DELETED:
            row["score"], row["comment"] = "0", "no answer found"
    filled = write_csv(tmp_path / "filled.csv", [list(r.values()) for r in rows])

    imported = import_scores(Course(course), filled)

    assert imported == 9, "six rows for ada_lovelace and three for alan_turing have a score; the rest are skipped"
    assert grade_of(course, "p3c_answer_beta10", SOLVER) == (2.5, False, "fine, p3c_answer_beta10"), \
        "a score should land as nbgrader's manual score with its comment, and no longer need manual grading"
    assert grade_of(course, "p2f_answer_ae_samples", PARTIAL) == (
        1.0, False, "over the word limit: the last 10 words were not read")
    assert grade_of(course, "p3c_answer_beta0", PARTIAL) == (1.0, False, None), "an empty comment sets no comment"
    assert grade_of(course, "p3c_answer_well_tuned", PARTIAL)[0] is None, "a row with no score should be skipped"

    export = {row["student_id"]: row for row in read_csv(export_scores(Course(course), tmp_path / "export.csv"))}

    assert set(export) == {SOLVER, PARTIAL, ABSENT}, "every student in the gradebook should have a row"
    solver, partial, absent = export[SOLVER], export[PARTIAL], export[ABSENT]
    assert (solver["p2a_auto"], solver["p2a_manual"], solver["p2a_max"]) == ("6", "", "6")
    assert (solver["p3c_auto"], solver["p3c_manual"], solver["p3c_max"]) == ("", "8.5", "9")
    assert (solver["p3d_auto"], solver["p3d_manual"], solver["p3d_max"]) == ("3", "2", "5")
    assert (solver["p4_auto"], solver["p4_manual"], solver["p4_max"]) == ("2", "1", "3")
    assert (solver["total"], solver["max_total"], solver["ungraded"]) == ("44.5", "45", ""), \
        "the solution's total should be its 31 autograded points plus the 13.5 the TA gave"
    assert (partial["p2f_manual"], partial["p3c_manual"], partial["p4_manual"]) == ("1", "1", "0")
    assert (partial["total"], partial["ungraded"]) == ("2", ""), \
        "the partial submission earns only the TA's 2 points; its untouched answers count 0 as in nbgrader"
    assert absent["total"] == "" and absent["p2a_auto"] == "" and absent["p3c_manual"] == "", \
        "a student with no submission should have empty scores, not zeros"
    assert absent["p3c_max"] == "9" and absent["max_total"] == "45", "maxima are shown for every student"

    write_review(Course(course), tmp_path / "again")
    again = {(r["student_id"], r["grade_id"]): r for r in read_csv(tmp_path / "again" / "scores.csv")}
    assert again[(SOLVER, "p3c_answer_beta10")]["score"] == "2.5" and \
        again[(SOLVER, "p3c_answer_beta10")]["comment"] == "fine, p3c_answer_beta10", \
        "a new review should pre-fill the scores and comments already in the gradebook"
    page = (tmp_path / "again" / "p3c_answer_beta10.html").read_text()
    assert "score 2.5 / 3" in text_of(sections(page)[SOLVER]), "the page should show the current manual score"


def test_a_csv_naming_an_unknown_student_is_rejected_and_the_gradebook_is_unchanged(course, tmp_path):
    bad = write_csv(tmp_path / "bad.csv", [[SOLVER, "p2f_answer_ae_samples", "2", "2", ""],
                                           ["ada_lovelcae", "p3c_answer_beta0", "3", "1", "typo in the id"]])
    before = db_hash(course)
    with pytest.raises(ScoreImportError) as error:
        import_scores(Course(course), bad)
    message = str(error.value)
    assert "line 3" in message and "there is no student ada_lovelcae in the gradebook" in message, message
    assert "nothing was imported" in message, message
    assert db_hash(course) == before, "a rejected CSV must leave gradebook.db byte-for-byte unchanged"
    assert grade_of(course, "p2f_answer_ae_samples", SOLVER)[0] is None, "not even the good row may be written"


def test_a_csv_with_a_score_above_the_maximum_is_rejected_and_the_gradebook_is_unchanged(course, tmp_path):
    bad = write_csv(tmp_path / "bad.csv", [[SOLVER, "p2f_answer_ae_samples", "2", "2", ""],
                                           [SOLVER, "p4_answer_interpolation", "1", "10", "meant 1.0"]])
    before = db_hash(course)
    with pytest.raises(ScoreImportError) as error:
        import_scores(Course(course), bad)
    message = str(error.value)
    assert "line 3" in message and "the score 10 is above the maximum of 1 points for p4_answer_interpolation" \
        in message, message
    assert db_hash(course) == before, "a rejected CSV must leave gradebook.db byte-for-byte unchanged"


def test_every_bad_row_is_reported_at_once_with_its_line(course, tmp_path):
    bad = write_csv(tmp_path / "bad.csv", [
        [SOLVER, "p2f_answer_ae_samples", "2", "two", ""],            # line 2
        [SOLVER, "p3c_answer_beta0", "3", "-1", ""],                   # line 3
        [SOLVER, "p2a_architecture", "6", "6", ""],                    # line 4
        [SOLVER, "p9_answer_nothing", "1", "1", ""],                   # line 5
        [PARTIAL, "p3d_answer_tuning", "2", "1", "first"],            # line 6
        [PARTIAL, "p3d_answer_tuning", "2", "2", "second"],           # line 7
        [ABSENT, "p3d_answer_tuning", "2", "1", ""],                   # line 8
        [PARTIAL, "p3c_answer_beta0", "3", "1", "good", " but short"],  # line 9: an unquoted comma
    ])
    before = db_hash(course)
    with pytest.raises(ScoreImportError) as error:
        import_scores(Course(course), bad)
    message = str(error.value)
    for expected in ("line 2 (student ada_lovelace, question p2f_answer_ae_samples): the score 'two' is not a number",
                     "line 3 (student ada_lovelace, question p3c_answer_beta0): the score -1 is negative",
                     "line 4 (student ada_lovelace, question p2a_architecture): p2a_architecture is scored by the "
                     "autograder, not a manually graded question",
                     "line 5 (student ada_lovelace, question p9_answer_nothing): there is no question "
                     "p9_answer_nothing in this assignment",
                     "line 7 (student alan_turing, question p3d_answer_tuning): repeats line 6",
                     "line 8 (student grace_hopper, question p3d_answer_tuning): student grace_hopper has no "
                     "submission to grade",
                     "line 9 (student alan_turing, question p3c_answer_beta0): the row has 1 more field(s) than the "
                     "header; a comment with a comma must be in double quotes"):
        assert expected in message, f"the message should say {expected!r}; it says:\n{message}"
    assert db_hash(course) == before

    missing_column = write_csv(tmp_path / "no_score.csv", [[SOLVER, "p2f_answer_ae_samples", "2"]],
                               header=("student_id", "grade_id", "max_points"))
    with pytest.raises(ScoreImportError, match="line 1 \\(the header\\) lacks the columns score, comment"):
        import_scores(Course(course), missing_column)
    assert db_hash(course) == before


# Review pages -------------------------------------------------------------------------------------

def test_each_question_page_shows_every_answer_its_word_count_and_its_figures(course, tmp_path):
    written = write_review(Course(course), tmp_path / "review")
    assert {p.name for p in written} == {f"{q}.html" for q in QUESTION_IDS} | {"index.html", "scores.csv"}
    index = (tmp_path / "review" / "index.html").read_text()
    assert all(f'href="{q}.html"' in index for q in QUESTION_IDS), "the index should link every question page"

    for question in QUESTIONS:
        page = (tmp_path / "review" / f"{question.grade_id}.html").read_text()
        assert "http://" not in page.replace('http-equiv', '') and "https://" not in page, \
            f"{question.grade_id}: the page must load nothing from the network"
        by_student = sections(page)
        assert set(by_student) == set(SUBMITTED), f"{question.grade_id}: every submitting student should be listed"
        for student, section in by_student.items():
            source = answer_source(course, student, question.grade_id)
            shown = text_of(section)
            if source is None:
                assert "no answer found" in shown, f"{question.grade_id}, {student}: a deleted answer cell"
            else:
                assert text_of(render_markdown(source)) in shown, f"{question.grade_id}, {student}: answer text"
                words = word_count(source)
                flag = (f"{words} words: over the {question.word_limit}-word limit" if words > question.word_limit
                        else f"{words} / {question.word_limit} words")
                assert flag in shown, f"{question.grade_id}, {student}: the word count should read {flag!r}"
            expected = png_outputs(course, student, question.figures)
            assert data_uri_images(section, "check-run") == expected, \
                f"{question.grade_id}, {student}: every PNG output of {question.figures} should be embedded once"
        assert data_uri_images(by_student[SOLVER], "check-run") > 0, f"{question.grade_id}: the check run has figures"

    p2f = sections((tmp_path / "review" / "p2f_answer_ae_samples.html").read_text())
    assert 'class="answer over"' in p2f[PARTIAL] and "160 words: over the 150-word limit by 10" in text_of(p2f[PARTIAL])
    assert 'class="answer over"' not in p2f[SOLVER], "an answer within its limit should not be flagged"


def test_each_question_shows_the_figures_and_numbers_the_student_submitted_and_flags_missing_ones(course, tmp_path):
    write_review(Course(course), tmp_path / "review")
    for question in QUESTIONS:
        by_student = sections((tmp_path / "review" / f"{question.grade_id}.html").read_text())
        ada, alan = by_student[SOLVER], by_student[PARTIAL]
        assert images_of(ada, "submitted") == [SUBMITTED_FIGURES[cell] for cell in question.figures], (
            f"{question.grade_id}: the page should show exactly the figures of {question.figures} that ada submitted, "
            "in order, before any of the grader's re-run")
        assert text_of(ada).index("As submitted: the student's own run") < text_of(ada).index("Short check run"), \
            f"{question.grade_id}: the student's run should come first, labelled as submitted"
        assert all(SUBMITTED_PRINTED[cell].strip() in text_of(ada) for cell in question.figures), \
            f"{question.grade_id}: the numbers ada's run printed should be on the page"
        assert "no figure submitted" not in text_of(ada)
        assert images_of(alan, "submitted") == [] and "no figure submitted" in text_of(alan), (
            f"{question.grade_id}: a submission without figures in {question.figures} should be flagged")
        assert set(images_of(ada, "check-run")).isdisjoint(SUBMITTED_FIGURES.values()), \
            "the check run's figures are nbgrader's, not the submitted ones"


def test_a_run_handed_in_with_the_short_budget_is_flagged_to_the_ta(course, tmp_path):
    path = course / "submitted" / PARTIAL / "vae" / "vae.ipynb"
    nbformat.write(with_own_run(notebooks.read(path), "device: cpu, fast mode: True\nQUICK is on\n"), str(path))
    write_review(Course(course), tmp_path / "review")
    by_student = sections((tmp_path / "review" / "p3c_answer_beta0.html").read_text())
    assert "short budget: this run had QUICK" in text_of(by_student[PARTIAL]), \
        "a submission run with QUICK on should be flagged: its figures are not from the real settings"
    assert "short budget" not in text_of(by_student[SOLVER]), "a run with the real settings is not flagged"


def test_submitted_outputs_are_capped_and_a_forged_setup_cell_cannot_hide_the_short_budget():
    nb = with_own_run(notebooks.read(SOURCE_NOTEBOOK), "device: cpu, fast mode: True\n")
    cells = notebooks.cells_by_grade_id(nb)
    cells["p3b_figures"].outputs += [new_output("display_data", data={"image/png": png(n)}) for n in range(30)]
    cells["p3b_figures"].outputs.append(new_output("display_data", data={"image/png": "A" * (4 * 2**20)}))
    cells["p3b_run"].outputs = [new_output("stream", name="stdout", text="x" * 2**20)]
    nb.cells.append(nbformat.v4.new_raw_cell("device: cpu, fast mode: False",
                                             metadata={"nbgrader": {"grade_id": "setup"}}))   # a second "setup"
    found = evidence(nb, ("p3b_run", "p3b_figures"))
    assert found.short_budget, "a cell claiming the setup cell's id should not hide that the run had QUICK on"
    assert len(found.figures) <= MAX_FIGURES_PER_CELL and all(len(f.png_base64) <= MAX_FIGURE_BASE64 for f in found.figures)
    assert found.not_shown, "figures left out should be listed on the page"
    assert all(len(text) <= PRINTED_OUTPUT_LIMIT + 1 for _, text in found.printed), "printed text is capped"


def test_feedback_shows_the_students_own_figures_above_the_check_run_and_flags_missing_ones(course):
    result = run_nbgrader(["generate_feedback", "vae", "--force"], course, check=False)
    assert result.returncode == 0, "nbgrader generate_feedback failed:\n" + result.stdout[-3000:] + result.stderr[-3000:]
    ada = (course / "feedback" / SOLVER / "vae" / "vae.html").read_text()
    missing = [cell for cell, image in SUBMITTED_FIGURES.items() if image not in ada]
    assert not missing, f"ada's feedback should show the figures she submitted in {missing}"
    assert ada.count("As you submitted it (your own run)") == len(FIGURE_CELLS), \
        "every figure cell a question discusses should label the student's own run"
    assert ada.index("As you submitted it") < ada.index("short check run (fast mode"), "own run first"
    assert "no figure submitted" not in ada
    alan = (course / "feedback" / PARTIAL / "vae" / "vae.html").read_text()
    assert alan.count("no figure submitted") == len(FIGURE_CELLS), \
        "a figure cell handed in without outputs should be flagged in the feedback"


def test_student_markup_is_shown_as_text_and_never_runs(course, tmp_path):
    write_review(Course(course), tmp_path / "review")
    page = (tmp_path / "review" / "p3c_answer_beta0.html").read_text()
    assert "<strong>collapses</strong>" in sections(page)[PARTIAL], "markdown in answers should be rendered"
    assert "&lt;script&gt;alert('pwned')&lt;/script&gt;" in page.replace("&#x27;", "'").replace("&#39;", "'"), \
        "a <script> in an answer should appear as text"
    assert page.count("<script>") == 1, "the only script on a page should be the page's own figure counter"
    assert "script-src 'sha256-" in page, "the Content-Security-Policy should allow only that script"


def test_anonymised_pages_and_csv_hide_student_ids_and_import_back_to_the_right_students(course, tmp_path):
    out = tmp_path / "anonymous"
    written = write_review(Course(course), out, anonymise=True)
    assert out / "pseudonyms.csv" in written
    for path in written:
        if path.name != "pseudonyms.csv":
            text = path.read_text()
            for student in SUBMITTED:
                assert student not in text, f"{path.name} should not contain the student id {student}"
    assert "for the instructor only" in (out / "index.html").read_text(), "the header should say who keeps the key"
    key = {row["student_id"]: row["pseudonym"] for row in read_csv(out / "pseudonyms.csv")}
    assert set(key) == set(SUBMITTED) and all(re.fullmatch(r"student-\d\d", p) for p in key.values())

    write_review(Course(course), out, anonymise=True)
    assert {row["student_id"]: row["pseudonym"] for row in read_csv(out / "pseudonyms.csv")} == key, \
        "re-running the review should keep every student's pseudonym"

    rows = read_csv(out / "scores.csv")
    assert {r["student_id"] for r in rows} == set(key.values())
    for row in rows:
        if row["grade_id"] == "p3c_answer_beta0":
            row["score"] = "3" if row["student_id"] == key[SOLVER] else "1"
            row["comment"] = f"for {row['student_id']}"
    filled = write_csv(tmp_path / "filled.csv", [list(r.values()) for r in rows])

    assert import_scores(Course(course), filled, pseudonyms=out / "pseudonyms.csv") == 2
    assert grade_of(course, "p3c_answer_beta0", SOLVER) == (3.0, False, f"for {key[SOLVER]}")
    assert grade_of(course, "p3c_answer_beta0", PARTIAL) == (1.0, False, f"for {key[PARTIAL]}")

    with pytest.raises(ScoreImportError, match="there is no student student-0. in the gradebook .it looks like a "
                                               "pseudonym: import with the review's pseudonyms.csv."):
        import_scores(Course(course), filled)   # without the key, pseudonyms are unknown students, never silently skipped
    stranger = write_csv(tmp_path / "stranger.csv", [["student-99", "p3c_answer_beta0", "3", "1", ""]])
    with pytest.raises(ScoreImportError, match="line 2 .*: the pseudonym student-99 is not in the pseudonym file"):
        import_scores(Course(course), stranger, pseudonyms=out / "pseudonyms.csv")


# In a real browser --------------------------------------------------------------------------------

@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not found; install it with "
                                             "`apt-get update && apt-get install -y chromium`")
def test_pages_render_in_headless_chromium_with_every_answer_and_every_figure_decoded(course, tmp_path):
    out = tmp_path / "review"
    write_review(Course(course), out)
    screenshot = tmp_path / "p3c_answer_beta0.png"
    shot = chromium(f"--screenshot={screenshot}", "--window-size=1280,2400",
                    (out / "p3c_answer_beta0.html").as_uri(), profile=tmp_path / "profile-shot")
    assert screenshot.is_file() and screenshot.stat().st_size > 10_000, "Chromium should take a screenshot:\n" + \
        shot.stderr[-2000:]

    for question in QUESTIONS:
        page = out / f"{question.grade_id}.html"
        dumped = chromium("--virtual-time-budget=10000", "--dump-dom", page.as_uri(),
                          profile=tmp_path / f"profile-{question.grade_id}")
        dom = dumped.stdout
        assert "<section" in dom, f"{question.grade_id}: Chromium should render the page:\n{dumped.stderr[-2000:]}"
        by_student = sections(dom)
        assert set(by_student) == set(SUBMITTED), f"{question.grade_id}: every student in the rendered page"
        expected_figures = 0
        for student in SUBMITTED:
            source = answer_source(course, student, question.grade_id)
            if source is not None:
                assert text_of(render_markdown(source)) in text_of(by_student[student]), \
                    f"{question.grade_id}, {student}: the answer should be in the rendered DOM"
            expected_figures += (png_outputs(course, student, question.figures)
                                 + png_outputs(course, student, question.figures, folder="submitted"))
        status = re.search(r'id="figures-loaded"[^>]*>([^<]*)<', dom)
        assert status, f"{question.grade_id}: the figure counter should be in the page"
        assert status.group(1) == f"{expected_figures} of {expected_figures} figures loaded", \
            f"{question.grade_id}: every figure should decode in the browser; the page says {status.group(1)!r}"
        assert dom.count("<script>") == 1, f"{question.grade_id}: no script but the page's own in the rendered DOM"
