"""The student release is nbgrader's output for the instructor source, and nbgrader agrees on both."""
from __future__ import annotations

from assignment.main_job import release_is_in_sync
from assignment.nbgrader_cli import validate
from assignment.paths import RELEASE_NOTEBOOK, SOURCE_NOTEBOOK


def test_release_is_byte_identical_to_a_fresh_generate_assignment():
    assert release_is_in_sync(), (
        "release/vae/vae.ipynb differs from what `nbgrader generate_assignment` makes of solutions/vae/vae.ipynb: "
        "run `vae-course release` and commit release/.")


def test_source_notebook_passes_nbgrader_validate():
    result = validate(SOURCE_NOTEBOOK)
    assert result.returncode == 0 and "Success! Your notebook passes all the tests." in result.stdout, (
        f"nbgrader validate rejected the solution notebook:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def test_release_fails_nbgrader_validate():
    result = validate(RELEASE_NOTEBOOK, invert=True)
    assert result.returncode == 0 and "Success! The notebook does not pass any tests." in result.stdout, (
        f"The release should fail every check before a student writes code:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
