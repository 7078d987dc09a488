"""Real `nbgrader autograde` with our preprocessor: the solution gets full marks, the bare release 0."""
from __future__ import annotations

import copy
import re
import shutil

import pytest
from nbformat.v4 import new_code_cell

from assignment import notebooks
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
    (course / "autograde.log").write_text(result.stderr)
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


def test_the_kernel_starts_once_the_checks_probe_server_has_imported_torch(graded_course):
    """The kernel is held back until the probe server has done its imports (they are what the grade waits for):
    it waited for the server's word, not for the whole limit, and only for the notebook whose checks run."""
    from autograder.grading.nbgrader_plugin import PROBE_SERVER_WAIT
    log = (graded_course / "autograde.log").read_text()
    waits = [float(w) for w in re.findall(r"probe server took ([0-9.]+) s to import torch", log)]
    assert len(waits) == 1, f"the kernel did not wait once for the probe server's imports (for the solution only): {waits}"
    assert 0.3 < waits[0] < PROBE_SERVER_WAIT, f"the kernel waited {waits[0]} s for the probe server"
    assert "had not imported torch after" not in log


def test_check_cells_carry_the_hidden_checks_report(graded_course):
    import nbformat
    nb = nbformat.read(str(graded_course / "autograded" / "untouched" / "vae" / "vae.ipynb"), as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "p3a_kl_divergence")
    report = cell.outputs[0]["text"]
    assert report.startswith("Hidden checks of p3a_kl_divergence (part 3a: VAE model: KL divergence, reparameterization, "
                             "loss, forward): 0 of 1 passed, 0 of 2 points.")
    assert "hold only the release's stubs" in report and "# YOUR CODE HERE" in report


# --- the release's own code: nothing runs, and nothing is lost by that ------------------------

def _release_code():
    from autograder.grading.extract import student_code
    release = notebooks.read(RELEASE_NOTEBOOK)
    return release, student_code(release, release)


def test_hidden_checks_that_cannot_run_stop_the_grading_instead_of_scoring_zero(tmp_path):
    """pytest's exit code says whether the checks ran: a check file it cannot find is the grader's error, not zero points."""
    from autograder.grading.run_checks import run_hidden_checks
    _, code = _release_code()
    with pytest.raises(RuntimeError, match="exit code 4") as raised:
        run_hidden_checks(code, tmp_path, grade_ids={"p3a_kl_divergence", "p9_no_such_part"})
    assert "test_p9_no_such_part.py" in str(raised.value), f"the error does not name the missing file: {raised.value}"


def test_every_hidden_check_fails_on_the_releases_own_code(tmp_path):
    """Why grading may skip the checks of an untouched release: run in full, not one of them passes."""
    from autograder.grading.run_checks import run_hidden_checks
    _, code = _release_code()
    records = run_hidden_checks(code, tmp_path)
    assert len(records) > 40, f"only {len(records)} checks ran on the release"
    passing = [f"{r['grade_id']}::{r['check']}" for r in records if r["passed"]]
    assert not passing, f"these checks pass on the release's stubs, so skipping them would cost points: {passing}"


def test_a_release_rerun_as_is_gets_nothing_written_without_running_anything():
    from autograder.grading.run_checks import NOTHING_WRITTEN, start_grading
    release, _ = _release_code()
    submitted = copy.deepcopy(release)
    submitted.cells.append(new_code_cell("# a note to myself, no code"))
    running = start_grading(submitted)
    assert running.done(), "grading started the checks for a notebook that holds only the release's code"
    grades = running.result()
    assert len(grades) == 10 and all(g.checks == [NOTHING_WRITTEN] and g.score == 0 for g in grades.values())


def test_code_written_outside_the_stub_cells_is_still_checked():
    """A student who leaves a stub cell as it is and writes the function in a cell of their own is graded on it."""
    from autograder.grading.run_checks import grade_notebook
    release, _ = _release_code()
    submitted = copy.deepcopy(release)
    kl = notebooks.cells_by_grade_id(notebooks.read(SOURCE_NOTEBOOK))["p3a_kl_divergence_solution"].source
    index = submitted.cells.index(notebooks.cells_by_grade_id(submitted)["p3a_kl_divergence_solution"])
    submitted.cells.insert(index + 1, new_code_cell(kl.replace("### BEGIN SOLUTION", "").replace("### END SOLUTION", "")))
    grade = grade_notebook(submitted, grade_ids={"p3a_kl_divergence"})["p3a_kl_divergence"]
    assert grade.score == grade.points, (
        f"kl_divergence written in a new cell below its stub earned {grade.score} of {grade.points}:\n{grade.report()}")


def test_the_course_starts_nbgrader_itself_without_the_iri_checker():
    """assignment.nbgrader_cli's entry is nbgrader's own command line, less jsonschema's optional IRI checker."""
    import subprocess
    import sys
    from assignment.nbgrader_cli import NBGRADER
    ours = subprocess.run([*NBGRADER, "--version"], capture_output=True, text=True)
    theirs = subprocess.run([sys.executable, "-m", "nbgrader", "--version"], capture_output=True, text=True)
    assert ours.returncode == 0 and ours.stdout == theirs.stdout, f"the course's nbgrader said {ours.stdout!r} {ours.stderr[-500:]}"
    probe = ("import runpy, sys; sys.argv = ['nbgrader', '--version']\n"
             "try:\n    runpy.run_module('assignment.nbgrader_cli', run_name='__main__')\n"
             "except SystemExit:\n    pass\nimport jsonschema\nprint('iri' in jsonschema.FormatChecker.checkers)")
    imported = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert imported.stdout.strip().endswith("False"), f"nbgrader started with the IRI checker: {imported.stdout[-300:]}"


def test_the_hidden_checks_can_start_their_probe_server_before_importing_torch():
    """The checks' conftest and the sandbox runner import without torch: the probe server's imports then overlap pytest's."""
    import subprocess
    import sys
    imported = subprocess.run([sys.executable, "-c", "import sys, autograder.checks.conftest, autograder.sandbox.runner\n"
                               "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch')[:3])"],
                              capture_output=True, text=True)
    assert imported.returncode == 0 and imported.stdout.strip() == "[]", (
        f"importing the checks' conftest imported torch before its probe server could start: {imported.stdout}{imported.stderr[-500:]}")


def test_code_the_grader_leaves_out_still_gets_the_checks_not_nothing_written():
    """kl_divergence defined inside a cell that trains is left out, but the student wrote code: the checks run as usual."""
    from autograder.grading.run_checks import NOTHING_WRITTEN, grade_notebook
    release, _ = _release_code()
    submitted = copy.deepcopy(release)
    index = submitted.cells.index(notebooks.cells_by_grade_id(submitted)["p2c_run"])
    submitted.cells.insert(index + 1, new_code_cell(
        "for epoch in range(1):\n"
        "    def kl_divergence(mu1, log_sigma1, mu2, log_sigma2):\n"
        "        return log_sigma2 - log_sigma1 + (torch.exp(2 * log_sigma1) + (mu1 - mu2) ** 2) / (2 * torch.exp(2 * log_sigma2)) - 0.5\n"
        "    history = train_autoencoder(model, train_loader, 1, 1e-3, device)\n"))
    grade = grade_notebook(submitted, grade_ids={"p3a_kl_divergence"})["p3a_kl_divergence"]
    assert NOTHING_WRITTEN not in grade.checks and len(grade.checks) > 1, (
        f"a notebook with code the grader left out was reported as nothing written:\n{grade.report()}")
