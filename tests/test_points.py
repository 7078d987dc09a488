"""The grading metadata matches the assignment's table of parts and points."""
from __future__ import annotations

import re

import pytest

from assignment import notebooks
from assignment.parts import PARTS, TOTAL_POINTS, part_of
from assignment.paths import REPO_ROOT

DESIGN_NOTES = REPO_ROOT.parent / "shared" / "design.md"


def test_points_of_every_part_match_the_table(source_nb):
    expected = {part.id: float(part.points) for part in PARTS if part.points}
    assert notebooks.points_by_part(source_nb) == expected


def test_the_assignment_is_worth_45_points(source_nb):
    assert TOTAL_POINTS == 45
    assert sum(notebooks.points_by_grade_id(source_nb).values()) == 45


def test_release_carries_the_same_points_as_the_source(source_nb, release_nb):
    assert notebooks.points_by_grade_id(release_nb) == notebooks.points_by_grade_id(source_nb)


@pytest.mark.skipif(not DESIGN_NOTES.exists(), reason="the shared design notes are not beside this checkout")
def test_parts_table_is_the_one_in_the_design_notes():
    rows = re.findall(r"^\| (\d\w?) [^|]*\| (\d+) \|", DESIGN_NOTES.read_text(), re.M)
    assert [(f"p{number}", int(points)) for number, points in rows] == [(p.id, p.points) for p in PARTS]


def test_grade_ids_are_unique_valid_and_name_their_part(source_nb):
    ids = [notebooks.nbgrader_meta(c)["grade_id"] for c in source_nb.cells]
    assert len(ids) == len(set(ids)), "grade ids must be unique"
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", i) for i in ids)
    known = {part.id for part in PARTS}
    for cell in notebooks.graded_cells(source_nb):
        grade_id = notebooks.nbgrader_meta(cell)["grade_id"]
        assert part_of(grade_id) in known, f"{grade_id} does not start with a part id such as p3a_"


def test_each_inline_question_states_a_word_limit_that_its_reference_answer_keeps(source_nb):
    cells = source_nb.cells
    answers = [i for i, c in enumerate(cells) if notebooks.is_manual_answer(c)]
    assert len(answers) == 6
    for i in answers:
        question, answer = cells[i - 1], cells[i]
        grade_id = notebooks.nbgrader_meta(answer)["grade_id"]
        assert answer.cell_type == "markdown", f"{grade_id} should be a markdown answer cell"
        limit = re.search(r"at most (\d+) words", question.source)
        assert limit, f"The question before {grade_id} should state its word limit ('at most N words')."
        points = notebooks.nbgrader_meta(answer)["points"]
        assert f"{points} point" in question.source, f"The question before {grade_id} should state its {points} points."
        words = len(answer.source.split())
        assert words <= int(limit.group(1)), f"The reference answer {grade_id} has {words} words, over its limit."


def test_check_cells_and_instructions_are_locked(source_nb):
    for cell in source_nb.cells:
        meta = notebooks.nbgrader_meta(cell)
        if not meta.get("solution"):
            assert meta.get("locked"), f"{meta['grade_id']} should be locked, so that autograde restores it."
