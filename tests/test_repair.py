"""Checking a submission before grading: what cannot be graded says why; what can be repaired is, and said."""
from __future__ import annotations

import copy
import json

import nbformat
import pytest

from assignment import notebooks
from autograder.intake.repair import check


def as_bytes(nb) -> bytes:
    return nbformat.writes(nb).encode()


def grade_ids(nb) -> list[str]:
    return [notebooks.nbgrader_meta(c).get("grade_id") for c in nb.cells]


@pytest.fixture
def student_nb(release_nb):
    """The release with the encoder/decoder stub replaced by the student's own code."""
    nb = copy.deepcopy(release_nb)
    notebooks.cells_by_grade_id(nb)["p2a_encoder_decoder_solution"].source = (
        "class Encoder(nn.Module):\n    pass  # mine\n\n\nclass Decoder(nn.Module):\n    pass  # mine\n")
    return nb


@pytest.mark.parametrize("data, words", [
    (b"", "the file is empty"),
    (b'{"cells": [ {"cell_type": "code", ', "not valid notebook JSON (line 1"),
    (b"\xff\xfe\x00garbage", "not UTF-8 text"),
    (b"%PDF-1.4 a report", "not valid notebook JSON"),
    (b'{"a": 1}', "not a Jupyter notebook"),
    (b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "has no cells"),
    (b'{"nbformat": 2, "worksheets": []}', "format version 2"),
    (b'{"cells": [{"cell_type": "markdown", "metadata": {}, "source": "\\ud800"}], "metadata": {}, "nbformat": 4, '
     b'"nbformat_minor": 5}', "not valid Unicode"),   # a lone surrogate: no file can hold the notebook again
])
def test_a_file_that_is_not_a_gradable_notebook_gets_a_plain_reason(release_nb, data, words):
    checked = check(data, release_nb)
    assert checked.notebook is None and words in checked.fatal, checked.fatal


def test_an_untouched_student_notebook_needs_no_repair(student_nb, release_nb):
    checked = check(as_bytes(student_nb), release_nb)
    assert checked.fatal is None and checked.repairs == [] and checked.flags == []
    assert grade_ids(checked.notebook) == grade_ids(release_nb)


def test_a_notebook_in_format_3_is_converted_and_graded(student_nb, release_nb):
    v3 = nbformat.convert(copy.deepcopy(student_nb), 3)
    assert v3.nbformat == 3 and "worksheets" in v3
    checked = check(json.dumps(v3).encode(), release_nb)
    assert checked.notebook is not None, checked.fatal
    assert "converted the notebook from format 3 to format 4" in checked.repairs


def test_a_duplicated_cell_is_removed_keeping_the_students_edited_copy(student_nb, release_nb):
    cells = student_nb.cells
    index = grade_ids(student_nb).index("p2a_encoder_decoder_solution")
    stub = copy.deepcopy(notebooks.cells_by_grade_id(release_nb)["p2a_encoder_decoder_solution"])
    cells.insert(index, stub)   # the stub copy comes first, with the same cell id as the edited one
    checked = check(as_bytes(student_nb), release_nb)
    kept = notebooks.cells_by_grade_id(checked.notebook)["p2a_encoder_decoder_solution"]
    assert "# mine" in kept.source
    assert grade_ids(checked.notebook) == grade_ids(release_nb)
    assert any("appeared 2 times" in r for r in checked.repairs)
    assert len({c.id for c in checked.notebook.cells}) == len(checked.notebook.cells), "cell ids must be unique"


def test_reordered_cells_are_put_back_in_the_release_order(student_nb, release_nb):
    student_nb.cells.reverse()
    checked = check(as_bytes(student_nb), release_nb)
    assert grade_ids(checked.notebook) == grade_ids(release_nb)
    assert "cells were out of order: put back in the release's order" in checked.repairs


def test_a_solution_cell_that_lost_its_metadata_is_found_by_what_it_defines(student_nb, release_nb):
    cell = notebooks.cells_by_grade_id(student_nb)["p2a_encoder_decoder_solution"]
    del cell.metadata["nbgrader"]
    checked = check(as_bytes(student_nb), release_nb)
    kept = notebooks.cells_by_grade_id(checked.notebook)["p2a_encoder_decoder_solution"]
    assert "# mine" in kept.source
    assert "cell p2a_encoder_decoder_solution: its nbgrader metadata was missing; matched it by content" in checked.repairs


def test_a_renamed_check_cell_is_matched_by_content_and_flagged(student_nb, release_nb):
    notebooks.cells_by_grade_id(student_nb)["p3a_kl_divergence"].metadata.nbgrader.grade_id = "my_check"
    checked = check(as_bytes(student_nb), release_nb)
    assert grade_ids(checked.notebook) == grade_ids(release_nb)
    assert "the grade id of cell p3a_kl_divergence was changed to 'my_check'" in checked.flags


def test_changed_points_are_restored_from_the_release_and_flagged(student_nb, release_nb):
    meta = notebooks.cells_by_grade_id(student_nb)["p2a_architecture"].metadata.nbgrader
    meta.points, meta.grade = 100, False
    checked = check(as_bytes(student_nb), release_nb)
    restored = notebooks.nbgrader_meta(notebooks.cells_by_grade_id(checked.notebook)["p2a_architecture"])
    assert restored["points"] == 6 and restored["grade"] is True
    assert any("p2a_architecture" in f and "points 100 -> 6" in f for f in checked.flags), checked.flags


def test_a_deleted_check_cell_comes_back_and_is_flagged(student_nb, release_nb):
    student_nb.cells = [c for c in student_nb.cells if notebooks.nbgrader_meta(c).get("grade_id") != "p2e_sample_prior"]
    checked = check(as_bytes(student_nb), release_nb)
    assert grade_ids(checked.notebook) == grade_ids(release_nb)
    assert "the check cell p2e_sample_prior had been deleted" in checked.flags


def test_an_edited_check_cell_is_flagged_for_a_ta(student_nb, release_nb):
    notebooks.cells_by_grade_id(student_nb)["p2b_forward_shapes"].source = "print('all checks passed')"
    checked = check(as_bytes(student_nb), release_nb)
    assert any("p2b_forward_shapes had been edited" in f for f in checked.flags)


def test_the_students_own_extra_cells_stay_where_they_were(student_nb, release_nb):
    index = grade_ids(student_nb).index("p2a_encoder_decoder_solution")
    student_nb.cells.insert(index + 1, nbformat.v4.new_code_cell("helper = 42  # my scratch cell"))
    checked = check(as_bytes(student_nb), release_nb)
    ids = grade_ids(checked.notebook)
    assert checked.notebook.cells[ids.index("p2a_encoder_decoder_solution") + 1].source.startswith("helper = 42")


def test_the_students_own_outputs_are_kept_for_the_ta_and_huge_ones_dropped_with_a_note(student_nb, release_nb):
    cells = notebooks.cells_by_grade_id(student_nb)
    own_run = [nbformat.v4.new_output("stream", name="stdout", text="3d: best_beta = 1.0; the autograder will ...\n")]
    cells["p3d_best_beta"].outputs = own_run
    cells["p3b_figures"].outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * (9 * 2**20))]
    checked = check(as_bytes(student_nb), release_nb)
    repaired = notebooks.cells_by_grade_id(checked.notebook)
    assert repaired["p3d_best_beta"].outputs == own_run, "the outputs of the student's own run should be kept"
    assert repaired["p3b_figures"].outputs == [], "a cell's outputs too large to show should be dropped"
    assert any("dropped the outputs of p3b_figures" in r for r in checked.repairs), checked.repairs


def test_metadata_of_any_shape_is_repaired_not_a_crash(student_nb, release_nb):
    student_nb.cells[0].metadata["nbgrader"] = {"grade_id": ["intro"], "schema_version": 3}
    student_nb.cells[1].metadata["nbgrader"] = "grade_id"
    checked = check(as_bytes(student_nb), release_nb)
    assert checked.notebook is not None and checked.fatal is None, checked.fatal
    ids = [notebooks.nbgrader_meta(c).get("grade_id") for c in checked.notebook.cells]
    assert ids == [notebooks.nbgrader_meta(c).get("grade_id") for c in release_nb.cells], \
        "the notebook should be rebuilt on the release's cells"