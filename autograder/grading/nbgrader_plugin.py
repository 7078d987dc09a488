"""nbgrader preprocessors of this course (configured in nbgrader_config.py).

- `ExecuteUntilStuck` is nbgrader's Execute with the kernel confined by the sandbox policy
  (sandbox/kernel.py), and a kernel that dies or a cell that times out ends the execution
  (recorded in that cell, and as an ExecutionEvent of the record) instead of the student's whole
  grading: the hidden checks do not need the kernel, so the student still gets every point earned.
- `StartHiddenChecks` starts the hidden checks, in the grading process, before the kernel runs
  (they read only the notebook's code); `HiddenChecks` waits for them after it, before `SaveAutoGrades`. For every
  autograded check cell it replaces the outputs the student's kernel produced with the hidden
  checks' report and the partial score, so that nbgrader records the score that trusted code
  computed, whatever the student's kernel printed, and writes the grading record (record.py) that
  every later reader uses.
- `KeepSubmittedClaims` runs first, before nbgrader clears the submitted outputs: it keeps in the
  notebook's metadata what the student's own run printed that grading reads (extract.SUBMITTED_KEY).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute, NbGraderPreprocessor

from assignment import notebooks

from autograder.grading.record import (CELL_TIMEOUT, DEAD_KERNEL, EVENT_ERRORS, UNREADABLE_MESSAGE, CellRecord,
                                       ExecutionEvent, GradingRecord)
from autograder.sandbox.kernel import ConfinedKernelManager, Sandbox
from autograder.sandbox.limits import OUTPUTS


class ExecuteUntilStuck(Execute):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", ConfinedKernelManager)   # nbgrader's own default is unconfined
        super().__init__(*args, **kwargs)

    # The kernel's messages are untrusted too: nbgrader keeps every output in memory and writes them all,
    # so outputs beyond a total are dropped here, and display updates (one small message that would be
    # copied into every earlier output with the same display id) are ignored.
    def output(self, outs, msg, display_id, cell_index):
        self._output_bytes = getattr(self, "_output_bytes", 0) + len(json.dumps(msg.get("content", {}), default=str))
        if self._output_bytes > OUTPUTS.kernel_total_bytes:
            return None
        return super().output(outs, msg, None, cell_index)

    def _update_display_id(self, display_id, msg):
        return None

    def preprocess_cell(self, cell, resources, index):
        grade_id = notebooks.nbgrader_meta(cell).get("grade_id")
        if grade_id is not None:
            self._last_grade_id = grade_id
        if getattr(self, "_stuck", None) and cell.cell_type == "code":
            cell.outputs = []   # not run: an earlier cell killed the kernel or timed out
            return cell, resources
        cell, resources = self._run_cell(cell, resources, index)
        events = resources.setdefault(EXECUTION_EVENTS, [])
        for output in cell.get("outputs", []):
            if output.output_type == "error" and output.get("ename") in EVENT_ERRORS:
                events.append(ExecutionEvent(output.ename, grade_id, None if grade_id else self._last_grade_id))
        return cell, resources

    def _run_cell(self, cell, resources, index):
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError as e:
            self._stuck = DEAD_KERNEL
            cell.outputs.append(new_output("error", ename=DEAD_KERNEL, evalue=str(e)[:300],
                                           traceback=["DeadKernelError: the kernel died while running this cell"]))
            return cell, resources
        except Exception as e:   # a message nbclient cannot read (the kernel can send anything): stop, keep grading
            self._stuck = UNREADABLE_MESSAGE
            said = " ".join(f"{type(e).__name__}: {e}"[:300].split())
            cell.outputs.append(new_output("error", ename=UNREADABLE_MESSAGE, evalue=said, traceback=[
                f"UnreadableKernelMessage: the kernel sent a message the grader could not read ({said})"]))
            return cell, resources
        if any(o.output_type == "error" and o.ename == CELL_TIMEOUT for o in cell.get("outputs", [])):
            self._stuck = CELL_TIMEOUT
        return cell, resources

    def preprocess(self, nb, resources=None, km=None):
        self._stuck, self._output_bytes, self._last_grade_id = None, 0, None
        (resources if resources is not None else {}).pop(EXECUTION_EVENTS, None)
        try:
            return super().preprocess(nb, resources, km)
        except DeadKernelError:   # raised again while shutting the dead kernel down
            return nb, resources
        except BaseException:     # nbgrader gives this student up: their checks end before it moves on
            running = (resources or {}).pop(RUNNING_CHECKS, None)
            if running is not None:
                try:
                    running[0].result()
                except Exception:
                    pass
            raise


class KeepSubmittedClaims(NbGraderPreprocessor):
    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        from autograder.grading.extract import keep_submitted_claims
        keep_submitted_claims(nb)
        return nb, resources


# Where StartHiddenChecks leaves the running checks, and ExecuteUntilStuck the events of the kernel's run,
# for HiddenChecks (nbconvert hands `resources` from one preprocessor to the next within a notebook's conversion).
RUNNING_CHECKS = "vae_running_hidden_checks"
EXECUTION_EVENTS = "vae_execution_events"


def _record_path(preprocessor: NbGraderPreprocessor, resources: dict) -> Path:
    """Where this notebook's grading record goes (Course.record), in the course nbgrader runs in."""
    from autograder.course import nbgrader_course

    return nbgrader_course(preprocessor.config).record(resources.get("nbgrader", {}).get("student", ""))


class StartHiddenChecks(NbGraderPreprocessor):
    """Starts the hidden checks before the kernel executes the notebook: they need only its code."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        from autograder.grading.run_checks import start_grading   # imported late: nbgrader loads this config for every command

        _record_path(self, resources).unlink(missing_ok=True)   # a file the submission's folder brought along
        started = time.monotonic()
        running = start_grading(nb, unconfined=Sandbox(parent=self).unconfined)
        finished = []
        running.add_done_callback(lambda _: finished.append(time.monotonic()))
        resources[RUNNING_CHECKS] = (running, started, finished)
        return nb, resources


class HiddenChecks(NbGraderPreprocessor):
    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        from autograder.grading.run_checks import grade_notebook

        running = resources.pop(RUNNING_CHECKS, None)
        if running is None:
            grades = grade_notebook(nb, unconfined=Sandbox(parent=self).unconfined)
        else:
            future, started, finished = running
            kernel_done = time.monotonic()
            grades = future.result()
            self.log.info("the kernel executed the notebook in %.1f s; the hidden checks took %.1f s beside it",
                          kernel_done - started, (finished[0] if finished else time.monotonic()) - started)
        record = GradingRecord(events=list(resources.pop(EXECUTION_EVENTS, [])),
                               confined=not Sandbox(parent=self).unconfined)
        for cell in nb.cells:
            grade = grades.get(notebooks.nbgrader_meta(cell).get("grade_id"))
            if grade is None or not notebooks.is_autograded_test(cell):
                continue
            raised = [o for o in cell.get("outputs", []) if o.output_type == "error"]
            # on one line: what the kernel sent must not pass for a line of the report
            said = " ".join(f"{raised[0].ename}: {raised[0].evalue}"[:300].split()) if raised else ""
            record.cells[grade.grade_id] = CellRecord(grade, said)
            cell.outputs = [new_output("stream", name="stdout", text=record.cells[grade.grade_id].report() + "\n"),
                            new_output("execute_result", data={"text/plain": f"{grade.score:g}"},
                                       execution_count=cell.get("execution_count"))]
            self.log.info("%s: %s of %s points", grade.grade_id, grade.score, grade.points)
        record.write(_record_path(self, resources))
        return nb, resources
