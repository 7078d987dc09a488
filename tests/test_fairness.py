"""Correct notebooks written the way students write them get full marks through real `nbgrader autograde`.

The student-style variants of tests/submissions/correct/ (the files with cell markers: helper
cells, module-level constants and devices, best_beta computed by code, a cell that re-defines a
function, ...) are submitted as one class and graded once. A variant whose best_beta comes from
its trained search is first executed in fast mode, as the student's own run, so that Check 3d's
output holds the value the grader reads. One more notebook has a cell that fails when the grader
loads it: it loses the one part that needs what that cell defines, and nothing else.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbformat import NotebookNode
from nbformat.v4 import new_output

from assignment import notebooks
from assignment.execute import execute
from assignment.nbgrader_cli import generate_release_elsewhere, run_nbgrader
from autograder.grading.extract import student_code
from autograder.course import Course
from tests.variants import MARKER, variant_notebook

pytestmark = pytest.mark.slow

CORRECT = Path(__file__).parent / "submissions" / "correct"
STUDENT_STYLE = sorted(path for path in CORRECT.glob("*.py") if MARKER.search(path.read_text()))

# A cell that fails while the grader loads it (and in the kernel too): only sample_prior uses what it defines.
FAILING_CELL = """# %% new cell after part2e_intro
PRIOR_SCALE = {"unit": 1.0}["standard"]   # a KeyError: this cell defines nothing
# %% replace p2e_sample_prior_solution
@torch.no_grad()
def sample_prior(decoder, n, nz, generator=None):
    decoder.eval()
    device = next(decoder.parameters()).device
    return decoder(PRIOR_SCALE * torch.randn(n, nz, generator=generator).to(device))
"""


# best_beta chosen from the run: the student's full run printed 1.0; the grader's own fast-mode re-run would pick 0.01.
CHOSEN_FROM_THE_RUN = """# %% replace p3d_tuning_solution
BETA_CANDIDATES = [0.01, 0.1, 1.0, 10.0]
tuned_vaes = {}
for beta in BETA_CANDIDATES:
    torch.manual_seed(SEED)
    tuned_vaes[beta] = VAE(NZ, beta=beta)
    train_vae(tuned_vaes[beta], train_loader, epochs=TUNE_EPOCHS, lr=LR, device=DEVICE)
best_beta = 1.0 if len(train_loader) > 100 else 0.01   # stands for any choice that depends on the training run
"""
PRINTED_BY_THE_FULL_RUN = "3d: best_beta = 1.0; the autograder will retrain a VAE with it and check its regime.\n"


def test_there_are_at_least_ten_student_style_correct_variants():
    assert len(STUDENT_STYLE) >= 10, [path.stem for path in STUDENT_STYLE]


@pytest.fixture(scope="module")
def graded(source_nb, release_nb, tmp_path_factory) -> tuple[Path, dict[str, NotebookNode]]:
    course = tmp_path_factory.mktemp("fairness")
    generate_release_elsewhere(course)
    extra = tmp_path_factory.mktemp("extra")
    (extra / "one_cell_fails_to_load.py").write_text(FAILING_CELL)
    (extra / "best_beta_from_the_full_run.py").write_text(CHOSEN_FROM_THE_RUN)
    submissions = {}
    for variant in STUDENT_STYLE + sorted(extra.glob("*.py")):
        nb = variant_notebook(source_nb, variant)
        if variant.stem == "best_beta_from_the_full_run":   # submitted with the output of the student's full run
            notebooks.cells_by_grade_id(nb)["p3d_best_beta"].outputs = [
                new_output("stream", name="stdout", text=PRINTED_BY_THE_FULL_RUN)]
        elif "best_beta" in student_code(nb, release_nb).view.missing:   # computed from the trained search
            folder = tmp_path_factory.mktemp(variant.stem)
            nbformat.write(nb, str(folder / "vae.ipynb"))
            nb = execute(folder / "vae.ipynb", folder, fast=True)
            assert notebooks.first_error(nb) is None, f"{variant.stem} fails in its own run: {notebooks.first_error(nb)}"
        submissions[variant.stem] = nb
        target = course / "submitted" / variant.stem / "vae"
        target.mkdir(parents=True)
        nbformat.write(nb, str(target / "vae.ipynb"))
    result = run_nbgrader(["autograde", "vae", "--create"], course, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return course, submissions


def scores(course: Path, student: str) -> dict[str, tuple[float, float]]:
    with Course(course).gradebook() as gradebook:
        notebook = gradebook.find_submission_notebook("vae", "vae", student)
        return {g.name: (g.auto_score, g.max_score) for g in notebook.grades
                if g.auto_score is not None and g.cell_type == "code"}


def report(course: Path, student: str, grade_id: str) -> str:
    nb = notebooks.read(course / "autograded" / student / "vae" / "vae.ipynb")
    cell = notebooks.cells_by_grade_id(nb)[grade_id]
    return "".join(output.get("text", "") for output in cell.outputs)


@pytest.mark.parametrize("variant", STUDENT_STYLE, ids=lambda path: path.stem)
def test_a_correct_notebook_written_as_students_write_it_gets_full_marks(variant, graded):
    course, _ = graded
    got = scores(course, variant.stem)
    assert len(got) == 10, f"{variant.stem} was not graded: {got}"
    lost = {grade_id: score for grade_id, score in got.items() if score[0] < score[1]}
    assert not lost, f"{variant.stem} is correct but lost points:\n" + "\n".join(
        report(course, variant.stem, grade_id) for grade_id in lost)


def test_a_cell_that_fails_to_load_costs_only_the_part_that_needs_it(graded):
    course, _ = graded
    got = scores(course, "one_cell_fails_to_load")
    lost = sorted(grade_id for grade_id, (score, maximum) in got.items() if score < maximum)
    assert lost == ["p2e_sample_prior"], f"expected to lose only 2e, lost {lost}"
    text = report(course, "one_cell_fails_to_load", "p2e_sample_prior")
    assert re.search(r"The statement that defines PRIOR_SCALE \(the cell you added after part2e_intro, line 1\) "
                     r"failed when the grader loaded your code: KeyError", text), text


def test_best_beta_computed_from_the_search_is_read_from_the_students_run(graded):
    course, submissions = graded
    computed = [name for name, nb in submissions.items() if any(
        "3d: best_beta = " in output.get("text", "")
        for output in notebooks.cells_by_grade_id(nb)["p3d_best_beta"].get("outputs", []))]
    assert computed, "no student-style variant computes best_beta from its trained search"
    for name in computed:
        assert scores(course, name)["p3d_best_beta"][0] == 3, report(course, name, "p3d_best_beta")


def test_best_beta_is_the_value_the_students_own_run_printed_not_the_graders_fast_run(graded):
    course, _ = graded
    assert scores(course, "best_beta_from_the_full_run")["p3d_best_beta"][0] == 3, (
        report(course, "best_beta_from_the_full_run", "p3d_best_beta"))
    autograded = notebooks.read(course / "autograded" / "best_beta_from_the_full_run" / "vae" / "vae.ipynb")
    printed = "".join(o.get("text", "") for o in notebooks.cells_by_grade_id(autograded)["p3d_figures"].outputs)
    assert "best_beta = 0.01" in printed, "the grader's own run should have chosen 0.01 (the test's premise)"
