"""The project is one installable package with one staff command, and its grader version means what it says."""
from __future__ import annotations

import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

from assignment.paths import REPO_ROOT
from autograder.cli import DEVELOPER_TOOLS
from autograder.grading.version import grader_version, scored_files

SUBCOMMANDS = ("release", "run", "grade", "review", "import-scores", "export", "gradescope", *DEVELOPER_TOOLS)


# A checkout, as far as the command needs one: what `pip install .` reads, and the course around the code.
PACKAGED = ("pyproject.toml", "README.md", "requirements.txt", "nbgrader_config.py", "assignment", "autograder",
            "solutions", "release")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """`pip install -e .` of a copy of this project into a fresh venv (dependencies shared through a .pth
    file, so nothing is downloaded); returns the venv's bin folder."""
    root = tmp_path_factory.mktemp("package")
    for name in PACKAGED:
        source, target = REPO_ROOT / name, root / "repo" / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True)
    packages = next((root / "venv" / "lib").glob("python3*/site-packages"))
    (packages / "shared-dependencies.pth").write_text(site.getsitepackages()[0] + "\n")
    pip = subprocess.run([sys.executable, "-m", "pip", "--python", str(root / "venv" / "bin" / "python"), "install",
                          "--no-deps", "--no-build-isolation", "--no-index", "-e", str(root / "repo")],
                         capture_output=True, text=True)
    assert pip.returncode == 0, f"`pip install -e .` failed:\n{pip.stdout[-2000:]}\n{pip.stderr[-2000:]}"
    return root / "venv" / "bin"


def test_pip_install_gives_one_staff_command_whose_help_lists_every_subcommand(installed):
    shown = subprocess.run([str(installed / "vae-course"), "--help"], capture_output=True, text=True)
    assert shown.returncode == 0, f"`vae-course --help` failed:\n{shown.stderr}"
    missing = [name for name in SUBCOMMANDS if name not in shown.stdout]
    assert not missing, f"`vae-course --help` does not list {missing}:\n{shown.stdout}"


def test_course_options_are_accepted_after_the_subcommand(installed):
    shown = subprocess.run([str(installed / "vae-course"), "export", "--help"], capture_output=True, text=True)
    assert "--course" in shown.stdout and "--db-url" in shown.stdout, shown.stdout
    from autograder.cli import parser
    before = parser().parse_args(["--course", "a", "export", "out.csv"])
    after = parser().parse_args(["export", "out.csv", "--course", "b"])
    assert (before.course, after.course) == ("a", "b"), "--course should work before and after the subcommand"


def test_a_developer_tool_keeps_its_own_options(installed):
    shown = subprocess.run([str(installed / "vae-course"), "benchmark", "--help"], capture_output=True, text=True)
    assert shown.returncode == 0 and "--runs" in shown.stdout, shown.stdout + shown.stderr


@pytest.fixture
def grader_tree(tmp_path) -> Path:
    """A copy of every file the grader's version covers, and of one staff output file and one developer tool."""
    for path in [*scored_files(), REPO_ROOT / "autograder" / "staff" / "review.py",
                 REPO_ROOT / "autograder" / "devtools" / "benchmark.py", REPO_ROOT / "pyproject.toml"]:
        target = tmp_path / path.relative_to(REPO_ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return tmp_path


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


@pytest.mark.parametrize("edited", ["autograder/staff/review.py", "autograder/devtools/benchmark.py",
                                    "pyproject.toml"])
def test_editing_a_staff_output_or_a_developer_tool_regrades_no_one(grader_tree, edited):
    before = grader_version(grader_tree)
    _append(grader_tree / edited, "\n# a new colour for the TA pages\n")
    assert grader_version(grader_tree) == before, f"editing {edited} changed the grader's version: everyone would be regraded"


@pytest.mark.parametrize("edited", ["assignment/notebooks.py", "assignment/grader_view.py",
                                    "autograder/checks/regimes.py", "autograder/checks/pytest.ini",
                                    "autograder/sandbox/limits.py", "autograder/intake/repair.py",
                                    "autograder/grading/run_checks.py", "autograder/workflow/grade_student.py",
                                    "solutions/vae/vae.ipynb", "nbgrader_config.py"])
def test_editing_what_decides_a_score_changes_the_grader_version(grader_tree, edited):
    before = grader_version(grader_tree)
    _append(grader_tree / edited, "\n# a changed rule\n")
    assert grader_version(grader_tree) != before, f"editing {edited} left the grader's version unchanged"


def test_the_grader_version_of_this_checkout_is_that_of_its_files():
    assert grader_version() == grader_version(REPO_ROOT)
    assert any(p.name == "notebooks.py" for p in scored_files()), "the check-cell rules must be covered"
    assert not any("staff" in p.parts or "devtools" in p.parts for p in scored_files())


def test_the_command_outside_a_checkout_says_how_to_install_it(installed, tmp_path):
    """A non-editable install has the code without the course around it: the command says so and how to fix it."""
    config = installed.parent.parent / "repo" / "nbgrader_config.py"
    moved = tmp_path / "nbgrader_config.py"
    shutil.move(config, moved)
    try:
        shown = subprocess.run([str(installed / "vae-course"), "--help"], capture_output=True, text=True)
    finally:
        shutil.move(moved, config)
    assert shown.returncode == 2 and "pip install -e ." in shown.stderr, shown.stdout + shown.stderr
