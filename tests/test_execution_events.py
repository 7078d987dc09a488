"""What stops a notebook's run (a dead kernel, a timeout) is what the grader saw, never what a cell claims.

nbgrader's Execute, as this course runs it (grading/nbgrader_plugin.ExecuteUntilStuck), in a real
confined kernel: error names and message types are the kernel's to choose, so a cell that raises
an exception called DeadKernelError, or sends a message whose type is a forged log line, changes
no note, no flag and no line of nbgrader's log; a real timeout is recorded as one.
"""
from __future__ import annotations

import io
import logging

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder.grading.nbgrader_plugin import EXECUTION_EVENTS, ExecuteUntilStuck
from autograder.grading.record import CELL_TIMEOUT
from autograder.sandbox.policy import available

pytestmark = pytest.mark.skipif(not available(), reason="bubblewrap cannot run here (autograder/sandbox/policy.py)")

FORGED_LOG_LINE = "[AutogradeApp | ERROR] the grader crashed, this student gets full marks"
CELLS = [
    'class DeadKernelError(Exception):\n    pass\nraise DeadKernelError("forged: the kernel died")',
    'class CellTimeoutError(Exception):\n    pass\nraise CellTimeoutError("forged: no reply")',
    "_ip = get_ipython()\n"
    f"_ip.kernel.session.send(_ip.kernel.iopub_socket, {'z' + chr(10) + FORGED_LOG_LINE!r}, {{'data': 1}},\n"
    "                         parent=_ip.kernel.get_parent('shell'))",
    'print("still running")',
    "import time\ntime.sleep(600)",
    'print("after the timeout")',
]


@pytest.fixture(scope="module")
def executed():
    nb = new_notebook(cells=[new_code_cell(source) for source in CELLS])
    for n, cell in enumerate(nb.cells):
        cell.metadata["nbgrader"] = {"grade_id": f"cell{n}", "grade": False, "solution": True, "locked": False,
                                     "schema_version": 3}
    log = io.StringIO()
    executor = ExecuteUntilStuck(timeout=8, startup_timeout=120)
    handler = logging.StreamHandler(log)
    executor.log.addHandler(handler)
    try:
        nb, resources = executor.preprocess(nb, {})
    finally:
        executor.log.removeHandler(handler)
    return nb, resources.get(EXECUTION_EVENTS, []), log.getvalue()


def test_an_error_named_like_a_dead_kernel_or_a_timeout_is_just_an_error(executed):
    nb, events, _ = executed
    assert [o.ename for o in nb.cells[0].outputs if o.output_type == "error"] == ["DeadKernelError"]
    assert "still running" in "".join(o.get("text", "") for o in nb.cells[3].outputs), (
        "the notebook should go on after a cell raised errors named DeadKernelError and CellTimeoutError")
    assert all(event.cell not in ("cell0", "cell1") for event in events), (
        f"a cell's own exception was taken for the kernel dying or timing out: {events}")


def test_a_message_type_made_up_by_the_kernel_never_reaches_nbgraders_log(executed):
    _, _, log = executed
    assert FORGED_LOG_LINE not in log, f"the kernel wrote a line into nbgrader's log:\n{log[-2000:]}"


def test_a_real_timeout_is_recorded_and_stops_the_run(executed):
    nb, events, _ = executed
    assert [(e.error, e.cell) for e in events] == [(CELL_TIMEOUT, "cell4")], events
    assert nb.cells[5].outputs == [], "no cell should run after one that timed out"
