"""Both notebooks run in a real kernel: the solution end to end, the release up to its first stub."""
from __future__ import annotations

from assignment import notebooks
from assignment.environment import course_env


def describe(error) -> str:
    index, cell, output = error
    return f"cell {index} ({notebooks.nbgrader_meta(cell).get('grade_id')}): {output.ename}: {output.evalue}"


def test_solution_executes_end_to_end_in_fast_mode(executed_solution):
    error = notebooks.first_error(executed_solution)
    assert error is None, f"The solution notebook failed in {describe(error)}"
    assert "fast mode: True" in executed_solution.cells[3].outputs[0].text


def test_every_visible_check_passes_and_says_so_on_the_solution(executed_solution):
    for cell in filter(notebooks.is_autograded_test, executed_solution.cells):
        grade_id = notebooks.nbgrader_meta(cell)["grade_id"]
        printed = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")
        assert printed.startswith(grade_id[1:].split("_")[0] + ":"), f"{grade_id} should print its success message"


def test_check_cells_never_write_to_stderr(executed_solution):
    """nbgrader gives 0 points to a check cell with any stderr output, warnings included."""
    for cell in filter(notebooks.is_autograded_test, executed_solution.cells):
        assert notebooks.stderr_text(cell) == "", f"{notebooks.nbgrader_meta(cell)['grade_id']} wrote to stderr"


def test_training_and_results_cells_show_figures(executed_solution):
    cells = notebooks.cells_by_grade_id(executed_solution)
    for grade_id in ["part1_data", "p2c_run", "p2d_reconstructions", "p2e_run", "p3b_run", "p3b_figures",
                     "p3d_figures", "p4_run"]:
        assert any("image/png" in o.get("data", {}) for o in cells[grade_id].outputs), f"{grade_id} shows no figure"


def test_release_stops_with_not_implemented_error_at_the_first_stub(executed_release):
    error = notebooks.first_error(executed_release)
    assert error is not None, "The release ran to the end: its stubs should raise NotImplementedError."
    index, cell, output = error
    assert output.ename == "NotImplementedError", f"The release failed with another error: {describe(error)}"
    assert notebooks.nbgrader_meta(cell)["grade_id"] == "p2a_architecture", (
        f"The first stub is the Encoder, first used by the 2a check; the release stopped in {describe(error)}")
    assert all(not c.get("outputs") for c in executed_release.cells[index + 1:]), "Execution should stop there."


def test_fast_mode_is_off_unless_the_grader_or_the_tests_ask_for_it(tmp_path):
    from nbclient import NotebookClient
    from nbformat.v4 import new_notebook

    from assignment.paths import SOURCE_NOTEBOOK
    setup = notebooks.cells_by_grade_id(notebooks.read(SOURCE_NOTEBOOK))["setup"]
    nb = new_notebook(cells=[setup])
    env = course_env(fast=False)
    env.pop("NBGRADER_EXECUTION", None)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute(env=env)
    assert "fast mode: False" in nb.cells[0].outputs[0].text


def test_the_gallery_of_a_run_shows_every_figure_with_its_cell_its_time_and_what_it_printed(executed_solution, tmp_path):
    from assignment.gallery import write_gallery
    readme = write_gallery(executed_solution, 12.0, tmp_path / "gallery", "fast mode", "the CPU")
    text = readme.read_text()
    pngs = sorted(p.name for p in (tmp_path / "gallery").glob("*.png"))
    drawn = sum("image/png" in o.get("data", {}) for c in executed_solution.cells for o in c.get("outputs", []))
    assert len(pngs) == drawn > 10, f"every figure of the run should be a file of the gallery: {len(pngs)} of {drawn}"
    assert all(f"]({name})" in text for name in pngs), "the gallery's README should link every figure"
    assert "Executed in **0.2 minutes** (12 s" in text and "the CPU" in text, "the run's time and device belong on top"
    assert "| p3b_run | " in text and "3d: best_beta = 1.0" in text, "each cell's time and printed numbers are listed"
