"""Nothing of the instructor's solutions, hidden tests or reference answers reaches students."""
from __future__ import annotations

import re

from assignment import notebooks

SOLUTION_REGION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
HIDDEN_REGION = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)


def distinctive_lines(text: str) -> list[str]:
    """Lines long enough that finding one in the release means the solution leaked."""
    return [line.strip() for line in text.splitlines() if len(line.strip()) >= 16]


def release_text(release_nb) -> str:
    return "\n".join(cell.source for cell in release_nb.cells)


def test_release_contains_no_line_of_any_solution(source_nb, release_nb):
    text = release_text(release_nb)
    # Lines the instructions quote on purpose (e.g. the formula of the total loss) are not leaks.
    instructions = SOLUTION_REGION.sub("", "\n".join(cell.source for cell in source_nb.cells))
    for cell in source_nb.cells:
        for region in SOLUTION_REGION.findall(cell.source):
            leaked = [line for line in distinctive_lines(region) if line in text and line not in instructions]
            assert not leaked, f"Solution lines of {notebooks.nbgrader_meta(cell)['grade_id']} are in the release: {leaked}"
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text


def test_release_contains_no_hidden_test(source_nb, release_nb):
    text = release_text(release_nb)
    hidden = [region for cell in source_nb.cells for region in HIDDEN_REGION.findall(cell.source)]
    assert hidden, "Every autograded check cell of the source should carry a hidden region."
    for region in hidden:
        leaked = [line for line in distinctive_lines(region) if line in text]
        assert not leaked, f"Hidden test lines are in the release: {leaked}"
    assert "HIDDEN TESTS" not in text


def test_every_check_cell_of_the_source_has_a_hidden_region(source_nb):
    missing = [notebooks.nbgrader_meta(c)["grade_id"] for c in source_nb.cells
               if notebooks.is_autograded_test(c) and not HIDDEN_REGION.search(c.source)]
    assert not missing, f"These check cells have no hidden region for the autograder: {missing}"


def test_release_contains_no_reference_answer(source_nb, release_nb):
    text = release_text(release_nb)
    for cell in filter(notebooks.is_manual_answer, source_nb.cells):
        sentences = [s.strip() for s in re.split(r"(?<=[.:;])\s+", cell.source) if len(s.strip()) >= 24]
        assert sentences, "A reference answer should hold at least one full sentence."
        leaked = [s for s in sentences if s in text]
        assert not leaked, f"Reference answer {notebooks.nbgrader_meta(cell)['grade_id']} leaked: {leaked}"
    for cell in filter(notebooks.is_manual_answer, release_nb.cells):
        assert cell.source.strip() == "YOUR ANSWER HERE"


def test_every_stub_in_the_release_raises_not_implemented_error(release_nb):
    stubs = [c for c in release_nb.cells if c.cell_type == "code" and notebooks.nbgrader_meta(c).get("solution")]
    assert stubs
    for cell in stubs:
        assert "raise NotImplementedError()" in cell.source, f"{notebooks.nbgrader_meta(cell)['grade_id']} has no stub."


def test_release_is_committed_without_outputs(release_nb):
    for cell in release_nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"Cell {notebooks.nbgrader_meta(cell)['grade_id']} of the release has outputs.")
