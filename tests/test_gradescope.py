"""The Gradescope bundle: the same trusted checks, results.json per Gradescope's spec, nbgrader's scores."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile

import nbformat
import pytest

from autograder.devtools.demo_class import SPECS, load_spec, student_notebook
from assignment.parts import part_of
from assignment.paths import mnist_root
from autograder.course import Course
from autograder.workflow.grade_class import StudentReport
from autograder.workflow.grade_student import MACHINE_ERROR
from autograder.workflow.gradescope import build_bundle, results_for

VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return build_bundle(tmp_path_factory.mktemp("bundle") / "autograder.zip")


@pytest.fixture(scope="module")
def gradescope_run(bundle, tmp_path_factory):
    """run_autograder, as Gradescope calls it, on Carol's partial notebook (any file name)."""
    root = tmp_path_factory.mktemp("autograder")
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    (root / "submission").mkdir()
    carol = student_notebook(load_spec(SPECS / "carol_partial.py")["CELLS"])
    nbformat.write(carol, str(root / "submission" / "Copy of vae (2).ipynb"))
    env = {**os.environ, "GRADESCOPE_ROOT": str(root), "PYTHON": sys.executable, "MNIST_ROOT": str(mnist_root())}
    run = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True,
                         timeout=1200)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    return root, json.loads((root / "results" / "results.json").read_text())


def test_the_bundle_has_gradescopes_entry_points_and_no_tests_or_developer_tools_of_ours(bundle):
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        for entry in ("setup.sh", "run_autograder"):
            assert entry in names, f"Gradescope needs {entry} at the root of the bundle"
            assert stat.S_IMODE(archive.getinfo(entry).external_attr >> 16) & 0o111, f"{entry} must be executable"
    assert "autograder/checks/test_p3a_kl_divergence.py" in names and "release/vae/vae.ipynb" in names
    assert not any(name.startswith("tests/") for name in names)
    assert not any(name.startswith("autograder/devtools/") for name in names), (
        "benchmarks, calibration and the demonstration class are developer tools: they do not belong on Gradescope")
    assert "autograder/grading/record.py" in names and "autograder/workflow/gradescope.py" in names


def test_results_json_has_the_fields_gradescope_reads(gradescope_run):
    _, results = gradescope_run
    assert isinstance(results["score"], (int, float)) and isinstance(results["output"], str)
    assert results["visibility"] in VISIBILITY and results["stdout_visibility"] in VISIBILITY
    for test in results["tests"]:
        assert isinstance(test["name"], str) and test["name"]
        assert isinstance(test["score"], (int, float)) and isinstance(test["max_score"], (int, float))
        assert 0 <= test["score"] <= test["max_score"]
        assert test["status"] in ("passed", "failed") and test["visibility"] in VISIBILITY
        assert isinstance(test["output"], str) and test["output"]
    assert sum(t["max_score"] for t in results["tests"]) == 31
    assert results["score"] == pytest.approx(sum(t["score"] for t in results["tests"]))


def test_each_part_scores_what_nbgrader_recorded(gradescope_run):
    root, results = gradescope_run
    with Course(root / "course").gradebook() as gradebook:
        graded = gradebook.find_submission_notebook("vae", "vae", "submission")
        recorded: dict[str, float] = {}
        for grade in graded.grades:
            if grade.cell_type == "code":
                recorded[part_of(grade.name)] = recorded.get(part_of(grade.name), 0) + grade.auto_score
    reported = {"p" + t["name"].split()[0]: t["score"] for t in results["tests"]}
    assert reported == pytest.approx(recorded)
    assert reported["p3a"] == 2 and reported["p2a"] == 6 and reported["p3b"] == 0, reported


def test_a_failed_check_explains_itself_in_the_part_output(gradescope_run):
    _, results = gradescope_run
    vae_part = next(t for t in results["tests"] if t["name"].startswith("3a "))
    assert "Hidden checks of p3a_reparameterize" in vae_part["output"] and "FAIL" in vae_part["output"]


def test_a_machine_error_tells_the_student_to_submit_again_not_that_their_notebook_failed():
    report = StudentReport("student", "vae.ipynb", MACHINE_ERROR, "No space left on device",
                           max_scores={"p3a_kl_divergence": 2.0})
    output = results_for(report, {}, "", 1.0)["output"]
    assert "not your notebook" in output and "Submit again" in output, output
    assert "could not be graded" not in output, f"a full disk on Gradescope's machine was blamed on the notebook: {output}"
