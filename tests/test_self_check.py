"""The self-check cell that students run in the notebook (Colab first) before they submit.

The cell cannot import the course's package, so it carries its own copy of the notebook's cell list
and of the word limits; these tests keep those copies equal to the release and to `assignment.parts`.
"""
from __future__ import annotations

import ast
import contextlib
import copy
import io
import json
import re
import sys
import types
from pathlib import Path

import pytest
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_output

from assignment import notebooks
from assignment.parts import QUESTIONS, part_of, word_count

HINT = 'self_check("path/to/vae.ipynb")'
SECTIONS = {"stubs": "1. Your code and written answers", "checks": "2. Check cells",
            "metadata": "3. Cells the grader needs", "words": "4. Word limits",
            "unseen": "5. What the autograder runs of your code"}
KINDS = {  # (grade, solution, locked) -> kind, as the self-check's table names them
    (False, False, True): "provided",
    (False, True, False): "solution",
    (True, False, True): "check",
    (True, True, False): "answer",
}


def kind(cell) -> str:
    meta = notebooks.nbgrader_meta(cell)
    return KINDS[bool(meta.get("grade")), bool(meta.get("solution")), bool(meta.get("locked"))]


def by_kind(nb, wanted: str) -> list[str]:
    return [notebooks.nbgrader_meta(c)["grade_id"] for c in nb.cells if kind(c) == wanted]


@pytest.fixture
def cell(source_nb) -> NotebookNode:
    return notebooks.cells_by_grade_id(source_nb)["self_check"]


@pytest.fixture
def namespace(cell, source_nb, monkeypatch) -> dict:
    """The globals of a fresh kernel after running the grader-view and self-check cells, outside Colab,
    Jupyter and the grader."""
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    namespace: dict = {}
    exec(compile(notebooks.cells_by_grade_id(source_nb)["grader_view"].source, "<grader_view cell>", "exec"), namespace)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(cell.source, "<self_check cell>", "exec"), namespace)
    namespace["printed_on_load"] = printed.getvalue()
    return namespace


def write(nb, path: Path) -> Path:
    """Write the notebook's JSON as is (nbformat.write would repair duplicate cell ids, which we test)."""
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")
    return path


def run(namespace, nb, tmp_path, capsys) -> tuple[dict, dict[str, str]]:
    """self_check(path) on the notebook: (the returned report, the printed text of each section)."""
    report = namespace["self_check"](str(write(nb, tmp_path / "vae.ipynb")))
    printed = capsys.readouterr()
    assert printed.err == "", f"The self-check wrote to stderr: {printed.err}"
    assert report is not None, f"The self-check did not read the notebook. It printed:\n{printed.out}"
    return report, sections(printed.out)


def sections(printed: str) -> dict[str, str]:
    found, current = {}, None
    for line in printed.splitlines():
        match = next((key for key, title in SECTIONS.items() if line.startswith(title)), None)
        if match:
            current = match
            found[current] = ""
        elif line.startswith("  ") and current:
            found[current] += line + "\n"
        elif line.strip():
            current = None
    assert set(found) == set(SECTIONS), f"The report should have the sections {list(SECTIONS.values())}:\n{printed}"
    return found


def cell_index(nb, grade_id: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if notebooks.nbgrader_meta(c).get("grade_id") == grade_id)


# --- the cell itself ----------------------------------------------------------------------------

def test_the_self_check_is_one_locked_provided_cell_at_the_end_of_before_you_submit(source_nb, cell):
    ids = [notebooks.nbgrader_meta(c)["grade_id"] for c in source_nb.cells]
    assert ids[-2:] == ["submit", "self_check"], "The self-check should be the cell right after 'Before you submit'."
    assert cell.cell_type == "code" and kind(cell) == "provided"
    assert notebooks.nbgrader_meta(cell) == {"grade": False, "grade_id": "self_check", "locked": True,
                                             "schema_version": 3, "solution": False}
    assert cell.outputs == [] and cell.execution_count is None, "The source notebook keeps the cell without outputs."
    assert "self_check(" in notebooks.cells_by_grade_id(source_nb)["submit"].source, (
        "'Before you submit' should tell students to run the self-check.")


def test_the_release_carries_the_self_check_verbatim(cell, release_nb):
    released = notebooks.cells_by_grade_id(release_nb).get("self_check")
    assert released is not None, "The release has no self-check cell: run `vae-course release`."
    assert released.source == cell.source


def test_the_notebook_carries_the_graders_own_view_of_the_code_verbatim(source_nb, release_nb):
    """The grader_view cell is assignment/grader_view.py, so the notebook warns exactly as the grader decides."""
    for where, nb in (("solutions", source_nb), ("release", release_nb)):
        cell = notebooks.cells_by_grade_id(nb).get("grader_view")
        assert cell is not None and cell.source == notebooks.grader_view_cell_source(), (
            f"The grader_view cell of {where} differs from assignment/grader_view.py: run `vae-course release`.")


@pytest.mark.parametrize("grade_id", ["self_check", "grader_view"])
def test_the_self_check_needs_only_the_standard_library_and_colab(grade_id, source_nb):
    cell = notebooks.cells_by_grade_id(source_nb)[grade_id]
    imported = set()
    for node in ast.walk(ast.parse(cell.source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    # IPython is in every notebook kernel (grader_view reads magics with it, and works without it).
    outside = {name for name in imported if name.split(".")[0] not in sys.stdlib_module_names} - {
        "google.colab", "IPython.core.inputtransformer2"}
    assert not outside, f"The {grade_id} cell must run in any student's kernel, but imports {outside}."


def test_loading_the_cell_without_a_notebook_to_read_prints_only_the_hint(namespace):
    printed = namespace["printed_on_load"]
    assert HINT in printed and len(printed.splitlines()) == 1, f"Expected one line with the hint, got:\n{printed}"


def test_in_a_real_kernel_the_cell_prints_the_hint_and_nothing_on_stderr(executed_solution):
    """nbgrader executes this cell when it grades: it must find nothing to read, say so, and never fail."""
    cell = notebooks.cells_by_grade_id(executed_solution)["self_check"]
    assert notebooks.stderr_text(cell) == "", "The self-check wrote to stderr, which costs points in graded cells."
    outputs = cell.outputs
    assert [o.output_type for o in outputs] == ["stream"] and outputs[0].name == "stdout", (
        f"The self-check should only print (no error, no stderr, no displayed value): {outputs}")
    assert HINT in outputs[0].text and len(outputs[0].text.splitlines()) == 1


# --- the tables embedded in the cell --------------------------------------------------------------

def test_the_table_of_cells_is_the_release_notebooks_cells_in_order(namespace, release_nb):
    assert all(notebooks.nbgrader_meta(c).get("grade_id") for c in release_nb.cells), (
        "Every cell of the release should have a grade id, so that the self-check can find it.")
    table = [row[:3] for row in namespace["_EXPECTED_CELLS"]]
    release = [(notebooks.nbgrader_meta(c)["grade_id"], c.cell_type, kind(c)) for c in release_nb.cells]
    assert table == release, (
        "The self-check's _EXPECTED_CELLS (grade id, cell type, kind) differs from the release notebook: "
        "update the table in the self_check cell of solutions/vae/vae.ipynb.")
    assert {flags: kind for kind, flags in namespace["_KIND_FLAGS"].items()} == KINDS


def test_every_part_students_fill_in_has_its_own_name_that_starts_with_its_part(namespace, release_nb):
    names = {grade_id: name for grade_id, _, _, name in namespace["_EXPECTED_CELLS"]}
    assert len(set(names.values())) == len(names), "Two cells share a name in the self-check's table."
    for grade_id in by_kind(release_nb, "solution") + by_kind(release_nb, "answer"):
        assert names[grade_id].startswith(part_of(grade_id)[1:] + " "), f"{grade_id} is named {names[grade_id]!r}"


def test_each_check_is_named_as_its_cells_first_line_names_it(namespace, release_nb):
    names = {grade_id: name for grade_id, _, _, name in namespace["_EXPECTED_CELLS"]}
    for grade_id in by_kind(release_nb, "check"):
        first_line = notebooks.cells_by_grade_id(release_nb)[grade_id].source.splitlines()[0]
        assert first_line.startswith(f"# {names[grade_id]}:"), f"{grade_id} starts with {first_line!r}"


def test_the_word_limits_are_the_questions_limits(namespace, source_nb):
    assert namespace["_WORD_LIMITS"] == {q.grade_id: q.word_limit for q in QUESTIONS}
    for question in QUESTIONS:
        text = source_nb.cells[cell_index(source_nb, question.grade_id) - 1].source
        stated = re.findall(r"at most (\d+) words", text)
        assert stated == [str(question.word_limit)], (
            f"The question before {question.grade_id} should say 'at most {question.word_limit} words', it says {stated}.")


@pytest.mark.parametrize("text", ["", "one", "  two\twords\n", "β = 0 gives KL ≈ 0", "- a bullet * and — a dash",
                                  "**bold** `code` $\\mathcal{N}(0, I)$", "10× 3.5 … (2f)", "a-b c/d e's"])
def test_words_are_counted_as_the_course_counts_them(namespace, text):
    assert namespace["_count_words"](text) == word_count(text)


def test_the_reference_answers_have_the_same_word_count_in_the_self_check_and_the_course(namespace, source_nb):
    for question in QUESTIONS:
        answer = notebooks.cells_by_grade_id(source_nb)[question.grade_id].source
        assert namespace["_count_words"](answer) == word_count(answer)


# --- what it reports -------------------------------------------------------------------------------

def test_on_the_release_every_part_is_a_stub_and_the_metadata_is_intact(namespace, release_nb, tmp_path, capsys):
    report, printed = run(namespace, release_nb, tmp_path, capsys)
    assert report["stubs"] == [notebooks.nbgrader_meta(c)["grade_id"] for c in release_nb.cells
                               if kind(c) in ("solution", "answer")]
    assert len(report["stubs"]) == 14 and printed["stubs"].count("✗") == 14 and "✓" not in printed["stubs"]
    assert report["not_run"] == by_kind(release_nb, "check") and report["failing_checks"] == []
    assert "Restart and run all" in printed["checks"], "Students should be told to Restart and run all."
    assert report["metadata_problems"] == [] and "✓" in printed["metadata"]
    assert report["answers_over_limit"] == [] and "✗" not in printed["words"]
    assert report["ready"] is False


def test_on_the_executed_solution_everything_is_ready(namespace, executed_solution, tmp_path, capsys):
    report, printed = run(namespace, executed_solution, tmp_path, capsys)
    assert report["stubs"] == [] and report["failing_checks"] == [] and report["not_run"] == []
    assert report["metadata_problems"] == [] and report["answers_over_limit"] == []
    assert report["word_counts"].keys() == {q.grade_id for q in QUESTIONS}
    assert not any("✗" in text for text in printed.values()), printed
    assert report["ready"] is True


@pytest.fixture
def broken(executed_solution) -> NotebookNode:
    """The executed solution after a student's accidents: every one the self-check must name."""
    nb = copy.deepcopy(executed_solution)
    del nb.cells[cell_index(nb, "p2e_sample_prior")]                              # a check cell deleted
    duplicate = cell_index(nb, "p3a_kl_divergence_solution")                       # a cell duplicated, same id
    nb.cells.insert(duplicate + 1, copy.deepcopy(nb.cells[duplicate]))
    nb.cells[cell_index(nb, "p3b_train_vae")].metadata.nbgrader.grade_id = "p3b_train_vae2"   # a label changed
    nb.cells[cell_index(nb, "p3c_answer_beta10")].source = " ".join(["word"] * 400)          # far too long
    nb.cells[cell_index(nb, "p4_interpolate")].outputs = [new_output(                          # a failing check
        "error", ename="AssertionError", evalue="The first and last images should decode the codes of x_start and x_end.",
        traceback=["AssertionError: The first and last images should decode the codes of x_start and x_end."])]
    return nb


def test_on_a_broken_submission_each_accident_is_named_in_its_section(namespace, broken, tmp_path, capsys):
    report, printed = run(namespace, broken, tmp_path, capsys)

    problems = report["metadata_problems"]
    assert len(problems) == 3, "Expected exactly: the deleted check, the duplicate, the changed label:\n" + "\n".join(problems)
    deleted = [p for p in problems if "(p2e_sample_prior)" in p]
    assert len(deleted) == 1 and "Check 2e" in deleted[0] and "deleted" in deleted[0] and "release" in deleted[0]
    duplicated = [p for p in problems if "p3a_kl_divergence_solution" in p]
    assert len(duplicated) == 1 and "2 times" in duplicated[0] and "cell id" in duplicated[0]
    renamed = [p for p in problems if "p3b_train_vae" in p]
    assert len(renamed) == 1 and "p3b_train_vae2" in renamed[0] and "changed" in renamed[0]
    for words in ("Check 2e", "3a kl_divergence", "Check 3b"):
        assert words in printed["metadata"]

    assert report["answers_over_limit"] == ["p3c_answer_beta10"]
    assert "✗ 3c answer (β = 10): 400 words" in printed["words"] and "150" in printed["words"]

    assert report["failing_checks"] == ["p4_interpolate"] and report["not_run"] == []
    assert "✗ Check 4 failed: AssertionError: The first and last images" in printed["checks"]
    assert "Restart and run all" in printed["checks"]

    assert report["stubs"] == [] and report["ready"] is False


def test_a_half_finished_part_is_still_a_stub(namespace, executed_solution, tmp_path, capsys):
    nb = copy.deepcopy(executed_solution)
    nb.cells[cell_index(nb, "p3c_answer_beta0")].source = "   \n"
    vae = nb.cells[cell_index(nb, "p3a_vae_solution")]
    vae.source = vae.source.replace("def loss(", "def loss_unused(") + (
        "\n\n    def loss(self, x, outputs):\n        # YOUR CODE HERE\n        raise NotImplementedError()\n")
    answer = nb.cells[cell_index(nb, "p4_answer_interpolation")]
    answer.source = "YOUR ANSWER HERE\n\n" + answer.source
    report, printed = run(namespace, nb, tmp_path, capsys)
    assert report["stubs"] == ["p3a_vae_solution", "p3c_answer_beta0", "p4_answer_interpolation"]
    assert "✗ 3a VAE (reparameterize, forward, loss): not done yet" in printed["stubs"]
    assert "✗ 3c answer (β = 0): not answered yet" in printed["stubs"]
    assert "✗ 4 answer (AE vs VAE interpolation): still says YOUR ANSWER HERE" in printed["stubs"]
    assert report["word_counts"]["p4_answer_interpolation"] == word_count(answer.source) - 3


def test_a_check_cell_that_never_ran_is_reported(namespace, executed_solution, tmp_path, capsys):
    nb = copy.deepcopy(executed_solution)
    check = nb.cells[cell_index(nb, "p3a_vae_loss")]
    check.outputs, check.execution_count = [], None
    report, printed = run(namespace, nb, tmp_path, capsys)
    assert report["not_run"] == ["p3a_vae_loss"] and report["failing_checks"] == []
    assert "✗ Check 3a (forward and loss) has not run" in printed["checks"]
    assert "Restart and run all" in printed["checks"]


def test_moved_retyped_and_foreign_cells_and_a_copied_cell_id_are_metadata_problems(
        namespace, release_nb, tmp_path, capsys):
    nb = copy.deepcopy(release_nb)
    question = nb.cells.pop(cell_index(nb, "p2f_question"))                  # moved to the end
    nb.cells.insert(cell_index(nb, "submit"), question)
    nb.cells[cell_index(nb, "p2f_answer_ae_samples")].cell_type = "code"      # an answer turned into code
    nb.cells[cell_index(nb, "p2f_answer_ae_samples")].update(outputs=[], execution_count=None)
    nb.cells[cell_index(nb, "p3d_tuning_solution")].metadata.nbgrader["locked"] = True   # flags changed
    foreign = new_markdown_cell("Notes from another course", metadata={"nbgrader": {
        "grade": True, "solution": True, "locked": False, "points": 1, "grade_id": "hw3_answer", "schema_version": 3}})
    foreign.id = "foreign-cell"
    nb.cells.insert(1, foreign)                                               # pasted from another notebook
    own = new_markdown_cell("My scratch notes")                               # the student's own cell, copied id
    own.id = notebooks.cells_by_grade_id(nb)["setup"].id
    nb.cells.insert(cell_index(nb, "setup") + 1, own)

    report, printed = run(namespace, nb, tmp_path, capsys)
    problems = "\n".join(report["metadata_problems"])
    assert len(report["metadata_problems"]) == 5, problems
    assert re.search(r"p2f_question\) is out of place: move it back just after Check 2e", problems)
    assert re.search(r"p2f_answer_ae_samples\) should be a markdown cell but is a code cell", problems)
    assert re.search(r"p3d_tuning_solution\): its nbgrader metadata was changed", problems)
    assert re.search(r"'hw3_answer', which this assignment does not have", problems)
    assert re.search(r"2 cells share the cell id 'setup'", problems)
    assert printed["metadata"].count("✗") == 5


# --- finding the notebook, and never failing -----------------------------------------------------

def test_in_colab_it_reads_the_open_notebook_through_colabs_message_api(namespace, release_nb, monkeypatch, capsys):
    requests = []

    def blocking_request(request, timeout_sec=None):
        requests.append(request)
        return {"ipynb": json.loads(json.dumps(release_nb))}

    message = types.SimpleNamespace(blocking_request=blocking_request)
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    colab = types.ModuleType("google.colab")
    colab._message = message
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab._message", message)
    report = namespace["self_check"]()
    assert requests == ["get_ipynb"] and report["notebook"] == "the notebook open in Colab"
    assert len(report["stubs"]) == 14 and "Self-check of the notebook open in Colab" in capsys.readouterr().out


@pytest.mark.parametrize("how", ["JPY_SESSION_NAME", "__session__", "__vsc_ipynb_file__"])
def test_in_jupyter_or_vs_code_it_reads_the_saved_notebook_file(how, namespace, release_nb, tmp_path, monkeypatch):
    path = write(release_nb, tmp_path / "Copy of vae.ipynb")
    if how == "JPY_SESSION_NAME":
        monkeypatch.setenv(how, str(path))
    else:
        namespace[how] = str(path)
    report = namespace["self_check"]()
    assert report is not None and str(path) in report["notebook"] and len(report["stubs"]) == 14


def test_while_the_grader_executes_the_notebook_it_reads_nothing(namespace, release_nb, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JPY_SESSION_NAME", str(write(release_nb, tmp_path / "vae.ipynb")))
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert namespace["self_check"]() is None
    assert HINT in capsys.readouterr().out


@pytest.mark.parametrize("content", [None, "not json at all", "[1, 2, 3]", '{"cells": 7}'])
def test_a_wrong_path_or_a_file_that_is_not_a_notebook_gets_a_plain_message_not_an_error(
        content, namespace, tmp_path, capsys):
    path = tmp_path / "vae.ipynb"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    report = namespace["self_check"](str(path))
    printed = capsys.readouterr()
    assert printed.err == "" and printed.out.startswith("Self-check")
    assert report is None or report["ready"] is False


# --- section 5: what the autograder runs of the student's code -------------------------------------

def test_the_self_check_names_each_definition_the_grader_would_not_see(namespace, executed_solution, tmp_path, capsys):
    nb = copy.deepcopy(executed_solution)
    cells = notebooks.cells_by_grade_id(nb)
    at = nb.cells.index(cells["p2c_run"]) + 1
    nb.cells.insert(at, new_code_cell("dev = test_images.device\nlimit = len(train_set)\n"))
    cells["p4_interpolate_solution"].source = cells["p4_interpolate_solution"].source.replace(
        "device = next(model.parameters()).device", "device = dev")
    cells["p2e_sample_prior_solution"].source = cells["p2e_sample_prior_solution"].source.replace(
        "z = torch.randn(n, nz", "z = torch.randn(min(n, limit), nz")
    report, printed = run(namespace, nb, tmp_path, capsys)
    assert report["grader_unseen"] == ["sample_prior uses limit", "interpolate uses dev"], printed["unseen"]
    assert ("✗ interpolate uses dev, which is defined by a statement the autograder skips (the cell you added after "
            "p2c_run, line 1: it uses test_images, which the autograder leaves out)") in printed["unseen"], printed["unseen"]
    assert "sample_prior uses limit" in printed["unseen"] and "it uses train_set" in printed["unseen"]
    assert report["ready"] is False


def test_the_self_check_says_where_a_computed_best_beta_comes_from(namespace, executed_solution, tmp_path, capsys):
    nb = copy.deepcopy(executed_solution)
    cells = notebooks.cells_by_grade_id(nb)
    cells["p3d_tuning_solution"].source = cells["p3d_tuning_solution"].source.replace(
        "best_beta = 1.0", "best_beta = sorted(tuned_vaes)[2]")
    report, printed = run(namespace, nb, tmp_path, capsys)
    assert "✓ best_beta is computed from your search" in printed["unseen"] and "(best_beta = 1.0)" in printed["unseen"]
    cells["p3d_best_beta"].outputs = []
    report, printed = run(namespace, nb, tmp_path, capsys)
    assert "✗ best_beta is computed from your search" in printed["unseen"] and report["grader_unseen"] == ["best_beta"]


def test_a_cell_that_is_not_python_is_named(namespace, executed_solution, tmp_path, capsys):
    nb = copy.deepcopy(executed_solution)
    nb.cells.insert(10, new_code_cell("def helper(:\n    pass\n"))
    report, printed = run(namespace, nb, tmp_path, capsys)
    assert "is not valid Python (line 1" in printed["unseen"] and len(report["grader_unseen"]) == 1, printed["unseen"]
