"""Grading a class in one command: everyone graded or told why, nothing lost, feedback without leaks.

One class is graded for the whole module (about two minutes a student on a busy 2-core
machine, two at a time): the demonstration class of tests/demo_class, plus a notebook that is
not valid JSON, one that ends its own kernel, and one that loops forever in a cell.
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
from html import unescape
import re
import shutil
import tempfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_output

from assignment import notebooks
from assignment.paths import REPO_ROOT, SOURCE_NOTEBOOK
from autograder.cli import print_class_table
from autograder.course import Course
from autograder.devtools.demo_class import write_downloads
from autograder.grading.record import GradingRecord, RecordError
from autograder.sandbox import kernel
from autograder.sandbox.limits import GradingLimits
from autograder.staff.feedback import generate_feedback, summary_html
from autograder.staff.review import write_review
from autograder.workflow import grade_student
from autograder.workflow.grade_class import ClassReport, grade_class
from autograder.workflow.gradescope import check_reports, results_for

from tests.variants import png, variant_notebook

CORPUS = Path(__file__).parent / "submissions"

LIMITS = GradingLimits(seconds=900, cell_seconds=30)
HIDDEN_REGION = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)


def solution_with_cell_after(grade_id: str, code: str):
    nb = notebooks.read(SOURCE_NOTEBOOK)
    index = [notebooks.nbgrader_meta(c).get("grade_id") for c in nb.cells].index(grade_id)
    nb.cells.insert(index + 1, new_code_cell(code))
    return nb


KIM_FIGURE = png(7)   # what kim's own run drew in p3b_figures
KIM_PRINTED_BETA = "3d: best_beta = 1.0; the autograder will retrain a VAE with it and check its regime.\n"


def kim_with_her_own_run():
    """Kim computes best_beta from her search (the grader reads it from Check 3d's output, as her run printed
    it), submits the outputs of her own run, and has a cell that ends the kernel while grading."""
    nb = variant_notebook(notebooks.read(SOURCE_NOTEBOOK), CORPUS / "correct" / "best_beta_from_summaries.py")
    index = [notebooks.nbgrader_meta(c).get("grade_id") for c in nb.cells].index("p2c_run")
    nb.cells.insert(index + 1, new_code_cell("import os\nos._exit(0)"))
    cells = notebooks.cells_by_grade_id(nb)
    cells["p3d_best_beta"].outputs = [new_output("stream", name="stdout", text=KIM_PRINTED_BETA)]
    cells["p3b_figures"].outputs = [new_output("display_data", data={"image/png": KIM_FIGURE, "text/plain": "<Figure>"})]
    return nb


def hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    downloads = root / "downloads"
    roster = write_downloads(downloads)
    (downloads / "mallory_vae.ipynb").write_text('{"cells": [{"cell_type": "code", "source": ')
    nbformat.write(kim_with_her_own_run(), str(downloads / "kim_vae.ipynb"))
    nbformat.write(solution_with_cell_after("p2c_run", "while True:\n    pass"), str(downloads / "lou_vae.ipynb"))
    before = hashes(downloads)
    course = Course(root / "course")
    result = grade_class(downloads, course, roster, workers=2, limits=LIMITS, progress=False)
    feedback = generate_feedback(course, [s for s, r in result.students.items() if r.status == "graded"])
    return {"result": result, "course": course, "downloads": downloads, "roster": roster, "before": before,
            "feedback": feedback}


# --- the grading record: one typed file per graded notebook, read by every output -------------------
# (first in this module: later tests regrade some students of the class)

GOLDEN = Path(__file__).parent / "golden"
DEMO_CLASS = ("ada", "bob", "carol", "dan", "erin")   # tests/demo_class, as autograder.devtools.demo_class writes it


def test_the_grading_record_round_trips_and_holds_the_scores_nbgrader_recorded(graded):
    course = graded["course"]
    for student, report in graded["result"].students.items():
        if report.status != "graded":
            assert not course.record(student).exists(), f"{student} was not graded, yet has a grading record"
            continue
        record = GradingRecord.read(course.record(student))
        assert GradingRecord.from_json(json.loads(json.dumps(record.to_json()))).to_json() == record.to_json(), (
            f"{student}'s grading record changed when written and read back")
        scores = {grade_id: cell.grade.score for grade_id, cell in record.cells.items()}
        assert scores == report.scores, f"{student}: the record says {scores}, the gradebook {report.scores}"
    kim = GradingRecord.read(course.record("kim"))
    assert [e.error for e in kim.events] == ["DeadKernelError"] and kim.events[0].after == "p2c_run", (
        f"kim's kernel died in the cell she added after p2c_run; the record says {kim.events}")


def test_the_class_table_feedback_and_gradescope_read_from_the_record_as_before(graded):
    """The demonstration class renders exactly as it did when these were read from the notebook's prose
    (tests/golden, captured before the record existed; since then only bob's check reports changed,
    when an untouched release stopped being run: run_checks.NOTHING_WRITTEN)."""
    course, result = graded["course"], graded["result"]
    demo = ClassReport(students={s: result.students[s] for s in DEMO_CLASS}, regraded=list(DEMO_CLASS))
    table = io.StringIO()
    with contextlib.redirect_stdout(table):
        print_class_table(demo, course, {})
    rendered = re.sub(r" in \d+ s\.", " in <seconds> s.", table.getvalue().replace(str(course.root), "<course>"))
    assert rendered == (GOLDEN / "demo_class_table.txt").read_text(), f"the class table changed:\n{rendered}"
    summaries = json.loads((GOLDEN / "demo_class_feedback_summaries.json").read_text())
    gradescope = json.loads((GOLDEN / "demo_class_gradescope.json").read_text())
    for student in DEMO_CLASS:
        assert summary_html(course, student) == summaries[student], f"{student}'s feedback summary changed"
        results = results_for(result.students[student], check_reports(course, student), "", 0.0)
        assert results == gradescope[student], f"{student}'s Gradescope results changed"


def test_a_record_of_another_version_is_refused_with_what_to_do(graded, tmp_path):
    path = tmp_path / "old.grading.json"
    path.write_text(json.dumps({**GradingRecord.read(graded["course"].record("ada")).to_json(), "version": 0}))
    with pytest.raises(RecordError, match="regrade the student"):
        GradingRecord.read(path)


def test_nbgrader_logs_are_kept_and_a_failed_report_says_where(graded):
    course = graded["course"]
    for student, report in graded["result"].students.items():
        if report.status == "not gradable":   # never reached nbgrader
            continue
        assert report.log == str(course.log(student)) and course.log(student).stat().st_size > 0, (
            f"{student}'s nbgrader log should be kept in {course.log(student)}")


def test_every_student_is_graded_and_the_honest_ones_exactly(graded):
    students = graded["result"].students
    assert sorted(students) == ["ada", "bob", "carol", "dan", "erin", "kim", "lou", "mallory"]
    assert students["ada"].total == 31, students["ada"].scores
    assert students["erin"].total == 31, students["erin"].scores
    assert students["bob"].total == 0, students["bob"].scores
    carol = students["carol"].scores   # encoder/decoder, AE loop, prior sampling and KL done
    assert {g for g, s in carol.items() if s > 0} == {"p2a_architecture", "p2b_forward_shapes",
                                                       "p2c_train_autoencoder", "p2e_sample_prior", "p3a_kl_divergence"}
    dan = students["dan"]   # everything, with the KL reversed
    assert dan.scores["p3a_kl_divergence"] < 2 and dan.scores["p2a_architecture"] == 6


def test_a_malformed_notebook_is_reported_with_its_reason_and_graded_zero(graded):
    mallory = graded["result"].students["mallory"]
    assert mallory.status == "not gradable" and "not valid notebook JSON" in mallory.reason
    assert mallory.total == 0


def test_a_notebook_that_ends_its_kernel_keeps_the_points_its_code_earns(graded):
    kim = graded["result"].students["kim"]
    assert kim.status == "graded" and kim.total == 31, kim
    assert any("kernel died" in note for note in kim.notes), kim.notes
    assert any("kernel died" in flag for flag in kim.flags), "a TA should look at a kernel that died"


def test_the_students_own_run_reaches_the_ta_pages_and_the_feedback(graded, tmp_path):
    write_review(graded["course"], tmp_path / "review")
    page = (tmp_path / "review" / "p3c_answer_beta0.html").read_text()
    assert KIM_FIGURE in page, "the TA page should show the figure kim's own run drew, as she submitted it"
    assert KIM_FIGURE in graded["feedback"]["kim"].read_text(), "kim's feedback should show her own figure"
    assert graded["result"].students["kim"].scores["p3d_best_beta"] == 3, (
        "kim's best_beta is read from what Check 3d printed in her run: the class command must keep her outputs")


def test_a_notebook_that_loops_forever_is_stopped_at_the_cell_limit_and_still_graded(graded):
    lou = graded["result"].students["lou"]
    assert lou.status == "graded" and lou.total == 31, lou
    assert any("did not finish within the time limit" in note for note in lou.notes), lou.notes


def test_the_gradebook_holds_what_the_reports_say(graded):
    course = graded["course"]
    with course.gradebook() as gradebook:
        for student, report in graded["result"].students.items():
            if report.status != "graded":
                continue
            submitted = gradebook.find_submission_notebook("vae", "vae", student)
            scores = {g.name: g.auto_score for g in submitted.grades if g.cell_type == "code"}
            assert scores == report.scores, f"{student}: gradebook {scores} != report {report.scores}"


def test_the_downloads_are_byte_identical_after_grading(graded):
    assert hashes(graded["downloads"]) == graded["before"]


def test_feedback_shows_no_hidden_check_code_and_no_reference_answer(graded):
    source = notebooks.read(SOURCE_NOTEBOOK)
    hidden_lines = {line.strip() for cell in source.cells for region in HIDDEN_REGION.findall(cell.source)
                    for line in region.splitlines() if len(line.strip()) >= 20}
    check_code = {line.strip() for path in (REPO_ROOT / "autograder" / "checks").glob("*.py")
                  for line in path.read_text().splitlines() if len(line.strip()) >= 30 and not line.strip().startswith(
                      ('"""', "#", "def test_", "assert ", "pytest.fail"))}
    references = [sentence for c in source.cells if notebooks.is_manual_answer(c)
                  for sentence in re.split(r"(?<=[.!?])\s+", c.source) if len(sentence) >= 40]
    assert len(references) >= 10
    for student in ("bob", "carol", "dan"):
        html = unescape(graded["feedback"][student].read_text())
        leaked = [line for line in hidden_lines | check_code if line in html]
        assert not leaked, f"the feedback of {student} shows hidden check code: {leaked[:3]}"
        shown = [sentence for sentence in references if sentence in html]
        assert not shown, f"the feedback of {student} shows the reference answers: {shown[:2]}"
        assert "VAE assignment: your scores" in html and "Hidden checks of p3a_kl_divergence" in html


def test_running_again_regrades_only_what_changed(graded, tmp_path):
    course, downloads = graded["course"], tmp_path / "downloads"
    shutil.copytree(graded["downloads"], downloads)
    nb = nbformat.read(str(downloads / "carol_vae.ipynb"), as_version=4)
    notebooks.cells_by_grade_id(nb)["p3c_answer_beta0"].source = "Carol's late answer."
    nbformat.write(nb, str(downloads / "carol_vae.ipynb"))
    again = grade_class(downloads, course, graded["roster"], workers=2, limits=LIMITS, progress=False)
    assert again.regraded == ["carol"], f"only carol's notebook changed, but these were regraded: {again.regraded}"
    assert sorted(again.unchanged) == sorted(set(graded["result"].students) - set(again.regraded))
    assert again.students["carol"].scores == graded["result"].students["carol"].scores


def test_a_machine_error_keeps_the_students_earlier_results_and_the_next_run_grades_them(graded, tmp_path, monkeypatch):
    """/tmp unwritable or a disk full is the grading machine's fault: it must not cost a student the grade
    they had, nor be remembered as their notebook's result (the run after the fix grades them)."""
    course, downloads = graded["course"], tmp_path / "downloads"
    shutil.copytree(graded["downloads"], downloads)
    nb = nbformat.read(str(downloads / "dan" / "vae (1).ipynb"), as_version=4)
    notebooks.cells_by_grade_id(nb)["p3c_answer_beta0"].source = "Dan's second thoughts."
    nbformat.write(nb, str(downloads / "dan" / "vae (1).ipynb"))
    before = course.report("dan").read_text()
    stored = {path: path.read_bytes() for path in (course.submitted("dan"), *course.originals("dan").iterdir())}
    with course.gradebook() as gradebook:
        scores = {g.name: g.auto_score for g in gradebook.find_submission_notebook("vae", "vae", "dan").grades}
    monkeypatch.setattr(kernel, "sockets_parent", lambda scratch: tmp_path / "no-such-folder" / "sockets")
    again = grade_class(downloads, course, graded["roster"], workers=2, limits=LIMITS, progress=False)
    assert "dan" in again.machine_errors and again.students["dan"].status == grade_student.MACHINE_ERROR, again
    assert "grade again" in again.students["dan"].reason, again.students["dan"].reason
    assert course.report("dan").read_text() == before, "a machine error replaced dan's earlier report"
    now_stored = {path: path.read_bytes() for path in (course.submitted("dan"), *course.originals("dan").iterdir())}
    assert now_stored == stored, ("a machine error replaced the stored copies of what dan sent: they no longer match "
                                  "the report and scores, which are still those of his earlier notebook")
    with course.gradebook() as gradebook:
        now = {g.name: g.auto_score for g in gradebook.find_submission_notebook("vae", "vae", "dan").grades}
    assert now == scores and sum(s or 0 for s in scores.values()) > 0, f"a machine error changed dan's scores: {scores} -> {now}"
    table = io.StringIO()
    with contextlib.redirect_stdout(table):
        print_class_table(again, course, {})
    assert "NOT GRADED because of this machine" in table.getvalue() and "dan" in table.getvalue(), table.getvalue()
    entry = json.loads(course.manifest.read_text())["dan"]
    assert entry["sha256"] != hashlib.sha256((downloads / "dan" / "vae (1).ipynb").read_bytes()).hexdigest(), (
        "the machine error was remembered as dan's grading: the next run would not grade his new notebook")


def test_a_grading_that_fails_beside_others_is_graded_again_alone_and_the_second_attempt_counts(
        graded, tmp_path, monkeypatch):
    """A neighbour's load can push a grading past its time limit (nothing bounds CPU), a neighbour's memory can
    get one of its processes killed: the first attempt of such a grading is not the one the student keeps."""
    course, downloads = graded["course"], tmp_path / "downloads"
    shutil.copytree(graded["downloads"], downloads)
    for path in (downloads / "carol_vae.ipynb", downloads / "ada_vae.ipynb"):
        nb = nbformat.read(str(path), as_version=4)
        notebooks.cells_by_grade_id(nb)["p3c_answer_beta0"].source = "A second thought."
        nbformat.write(nb, str(path))
    real_grade, attempts = grade_student.grade, []

    def slowed_down_the_first_time(student, *args, **kwargs):
        attempts.append(student)
        if student == "carol" and attempts.count("carol") == 1:
            return grade_student.Graded("timed out", "did not finish within 900 s (slowed down by its neighbours)")
        return real_grade(student, *args, **kwargs)
    monkeypatch.setattr(grade_student, "grade", slowed_down_the_first_time)
    again = grade_class(downloads, course, graded["roster"], workers=2, limits=LIMITS, progress=False)
    carol = again.students["carol"]
    assert attempts.count("carol") == 2 and attempts[-1] == "carol", f"carol was graded {attempts.count('carol')} times: {attempts}"
    assert attempts.count("ada") == 1, "ada's grading succeeded the first time: it must not be graded again"
    assert carol.status == "graded" and carol.scores == graded["result"].students["carol"].scores, (
        f"carol's second attempt should count: {carol.status} {carol.reason} {carol.scores}")
    assert any("Graded twice" in note and "timed out" in note for note in carol.notes), carol.notes


def test_a_grading_that_times_out_alone_too_is_recorded_as_timed_out_after_two_attempts(tmp_path):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    for student in ("tom", "tim"):
        (downloads / f"{student}_vae.ipynb").write_bytes(SOURCE_NOTEBOOK.read_bytes())
    course = Course(tmp_path / "course")
    result = grade_class(downloads, course, workers=2, limits=GradingLimits(seconds=5), progress=False)
    for student in ("tom", "tim"):
        report = result.students[student]
        assert report.status == "timed out" and "did not finish within 5 s" in report.reason, report
        assert any("Graded twice" in note for note in report.notes), f"{student} was graded once: {report.notes}"
    again = grade_class(downloads, course, workers=2, limits=GradingLimits(seconds=5), progress=False)
    assert sorted(again.unchanged) == ["tim", "tom"], "after two attempts the time-out is the notebook's result"


def test_a_run_retries_at_most_a_few_gradings_so_notebooks_that_always_time_out_cannot_multiply_its_length(
        tmp_path, monkeypatch):
    """Each retry is serial and may take the whole time limit: beyond RETRIES_PER_RUN, the first attempt counts."""
    from autograder.workflow import grade_class as class_module
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    students = [f"s{n}" for n in range(class_module.RETRIES_PER_RUN + 2)]
    for student in students:
        (downloads / f"{student}_vae.ipynb").write_bytes(SOURCE_NOTEBOOK.read_bytes())
    attempts = []

    def always_too_slow(student, *args, **kwargs):   # what the retry policy sees of a notebook over its limit
        attempts.append(student)
        return grade_student.Graded("timed out", "did not finish within 600 s")
    monkeypatch.setattr(grade_student, "grade", always_too_slow)
    result = grade_class(downloads, Course(tmp_path / "course"), workers=2, progress=False)
    twice = sorted(s for s in students if attempts.count(s) == 2)
    once = sorted(s for s in students if attempts.count(s) == 1)
    assert len(twice) == class_module.RETRIES_PER_RUN and len(once) == 2, f"attempts per student: {attempts}"
    for student in once:
        assert any("Not graded again alone" in n for n in result.students[student].notes), result.students[student].notes
        assert result.students[student].status == "timed out"


def test_a_grading_that_cannot_be_started_is_the_machines_error_not_the_notebooks(tmp_path, monkeypatch):
    """Whatever stops the grader before nbgrader runs (here: the kernel's sockets folder is not a folder, so
    its private file system cannot be made) is the machine's: the student keeps their results, told why."""
    template = grade_student.make_template_gradebook(tmp_path)
    not_a_folder = tmp_path / "sockets"
    not_a_folder.write_text("")
    monkeypatch.setattr(grade_student, "make_sockets_parent", lambda scratch: not_a_folder)
    outcome = grade_student.grade("ada", copy.deepcopy(notebooks.read(SOURCE_NOTEBOOK)), template, tmp_path)
    assert outcome.status == grade_student.MACHINE_ERROR, f"{outcome.status}: {outcome.reason}"
    assert str(not_a_folder) in outcome.reason and "grade again" in outcome.reason, outcome.reason


def test_a_student_over_the_time_limit_is_stopped_and_told_why(tmp_path):
    template = grade_student.make_template_gradebook(tmp_path)
    nb = copy.deepcopy(notebooks.read(SOURCE_NOTEBOOK))
    outcome = grade_student.grade("slow", nb, template, tmp_path, GradingLimits(seconds=5))
    assert outcome.status == "timed out" and "did not finish within 5 s" in outcome.reason


def test_a_sockets_folder_that_cannot_be_made_is_the_machines_error_with_the_fix(tmp_path, monkeypatch, request):
    """The kernel's sockets folder is made fresh in /tmp for each student: one of that name already there
    (made by someone else) is refused, and the grader says what to do, without a traceback."""
    short = Path(tempfile.mkdtemp(prefix="vae-t-", dir="/tmp"))   # as short as the grader's own, in /tmp
    request.addfinalizer(lambda: shutil.rmtree(short))
    taken = short / "vae-sockets-taken"
    taken.mkdir()
    (taken / "theirs.txt").write_text("someone else's")
    monkeypatch.setattr(kernel, "sockets_parent", lambda scratch: taken)
    template = tmp_path / "template.db"   # never opened: grading stops before nbgrader starts
    template.write_bytes(b"")
    graded = grade_student.grade("zoe", notebooks.read(SOURCE_NOTEBOOK), template, tmp_path)
    assert graded.status == grade_student.MACHINE_ERROR, f"grading went on with a sockets folder made by someone else: {graded}"
    assert "holds no vae-sockets-taken" in graded.reason and "grade again" in graded.reason, graded.reason
    assert (taken / "theirs.txt").read_text() == "someone else's", "the grader removed a folder it had not made"


def test_a_sockets_folder_too_deep_for_a_socket_is_the_machines_error_with_the_fix(tmp_path, monkeypatch):
    """Without a writable /tmp the sockets go under $TMPDIR; one too deep for a UNIX socket's 107 bytes
    would make every kernel fail to start with Jupyter's words, so the grader says it in its own."""
    deep = tmp_path / ("d" * 80) / "vae-sockets-deep"
    deep.parent.mkdir()   # there, so that only the length check keeps the grader from making the folder
    monkeypatch.setattr(kernel, "sockets_parent", lambda scratch: deep)
    template = tmp_path / "template.db"   # never opened: grading stops before nbgrader starts
    template.write_bytes(b"")
    graded = grade_student.grade("zoe", notebooks.read(SOURCE_NOTEBOOK), template, tmp_path)
    assert graded.status == grade_student.MACHINE_ERROR, f"a sockets folder too deep was not the machine's error: {graded}"
    assert "too deep" in graded.reason and "TMPDIR" in graded.reason, graded.reason
    assert not deep.exists(), "the grader made a sockets folder it could not use"
