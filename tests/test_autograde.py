"""Real `nbgrader autograde` with our preprocessor: the solution gets full marks, the bare release 0."""
from __future__ import annotations

import shutil

import pytest

from assignment.nbgrader_cli import generate_release_elsewhere, run_nbgrader
from assignment.paths import RELEASE_NOTEBOOK, SOURCE_NOTEBOOK
from autograder.course import Course


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    generate_release_elsewhere(course)
    for student, notebook in (("solution", SOURCE_NOTEBOOK), ("untouched", RELEASE_NOTEBOOK)):
        folder = course / "submitted" / student / "vae"
        folder.mkdir(parents=True)
        shutil.copy2(notebook, folder / "vae.ipynb")
    result = run_nbgrader(["autograde", "vae", "--create"], course, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return course


def auto_scores(course, student: str) -> dict[str, tuple[float, float]]:
    with Course(course).gradebook() as gradebook:
        notebook = gradebook.find_submission_notebook("vae", "vae", student)
        return {g.name: (g.auto_score, g.max_score) for g in notebook.grades
                if g.auto_score is not None and g.cell_type == "code"}


def test_solution_gets_every_autograded_point(graded_course):
    scores = auto_scores(graded_course, "solution")
    assert len(scores) == 10 and sum(s for s, _ in scores.values()) == 31
    assert all(score == maximum for score, maximum in scores.values()), scores


def test_untouched_release_gets_zero_everywhere_without_crashing(graded_course):
    scores = auto_scores(graded_course, "untouched")
    assert len(scores) == 10 and all(score == 0 for score, _ in scores.values()), scores


def test_check_cells_carry_the_hidden_checks_report(graded_course):
    import nbformat
    nb = nbformat.read(str(graded_course / "autograded" / "untouched" / "vae" / "vae.ipynb"), as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "p3a_kl_divergence")
    report = cell.outputs[0]["text"]
    assert report.startswith("Hidden checks of p3a_kl_divergence (part 3a: VAE model: KL divergence, reparameterization, "
                             "loss, forward): 0 of 6 passed, 0 of 2 points.")
    assert "your code raised NotImplementedError" in report and "in kl_divergence" in report
