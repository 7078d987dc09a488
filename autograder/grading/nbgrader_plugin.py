"""nbgrader preprocessors of this course (configured in nbgrader_config.py).

- `ExecuteUntilStuck` is nbgrader's Execute with the kernel confined by the sandbox policy
  (sandbox/kernel.py), and a kernel that dies or a cell that times out ends the execution
  (recorded in that cell, and as an ExecutionEvent of the record) instead of the student's whole
  grading: the hidden checks do not need the kernel, so the student still gets every point earned.
- `StartHiddenChecks` starts the hidden checks, in the grading process, before the kernel runs
  (they read only the notebook's code), and lets their probe server import torch before the kernel
  starts; `HiddenChecks` waits for them after it, before `SaveAutoGrades`. For every
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

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute, NbGraderPreprocessor

from assignment import notebooks

from autograder.grading.record import (CELL_TIMEOUT, DEAD_KERNEL, UNREADABLE_MESSAGE, CellRecord, ExecutionEvent,
                                       GradingRecord)
from autograder.grading.scores import one_line
from autograder.sandbox.kernel import ConfinedKernelManager, Sandbox
from autograder.sandbox.limits import OUTPUTS


# What the kernel may send on its iopub channel that nbclient turns into outputs or state. Anything else
# (widget comms, display updates, names the kernel made up) is dropped unread: nbclient would write a
# message's type into nbgrader's log, and an update would be copied into every earlier output.
KERNEL_MESSAGES = {"status", "execute_input", "stream", "display_data", "execute_result", "error", "clear_output"}


class ExecuteUntilStuck(Execute):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", ConfinedKernelManager)   # nbgrader's own default is unconfined
        # Once the last cell has run, every output is in: the student's atexit hooks have nothing to give
        # the grader, and a graceful shutdown waited about a second for them on every submission.
        kwargs.setdefault("shutdown_kernel", "immediate")
        super().__init__(*args, **kwargs)

    # The kernel's messages are untrusted: every byte of them counts towards a total beyond which
    # outputs are dropped (nbgrader keeps them all in memory and writes them all).
    def process_message(self, msg, cell, cell_index):
        self._output_bytes = getattr(self, "_output_bytes", 0) + len(json.dumps(msg, default=str))
        msg_type = msg.get("msg_type")
        if msg_type not in KERNEL_MESSAGES:
            return None
        if msg_type != "status" and self._output_bytes > OUTPUTS.kernel_total_bytes:
            return None
        return super().process_message(msg, cell, cell_index)

    def output(self, outs, msg, display_id, cell_index):
        return super().output(outs, msg, None, cell_index)   # no display ids: nothing to update later

    def _update_display_id(self, display_id, msg):
        return None

    async def _async_handle_timeout(self, timeout, cell=None):
        self._timed_out = True   # seen here, by the grader: the only evidence of a timeout (an error's name is the kernel's)
        return await super()._async_handle_timeout(timeout, cell)

    def preprocess_cell(self, cell, resources, index):
        grade_id = notebooks.nbgrader_meta(cell).get("grade_id")
        if grade_id is not None:
            self._last_grade_id = grade_id
        if getattr(self, "_stuck", None) and cell.cell_type == "code":
            cell.outputs = []   # not run: an earlier cell killed the kernel or timed out
            return cell, resources
        cell, resources, event = self._run_cell(cell, resources, index)
        if event is not None:   # what the grader saw happen, never what an output claims
            self._stuck = event
            resources.setdefault(EXECUTION_EVENTS, []).append(
                ExecutionEvent(event, grade_id, None if grade_id else self._last_grade_id))
        return cell, resources

    def _run_cell(self, cell, resources, index):
        """Run one cell; return it, the resources, and the event that stops the execution (or None)."""
        self._timed_out = False
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError as e:
            cell.outputs.append(new_output("error", ename=DEAD_KERNEL, evalue=str(e)[:300],
                                           traceback=["DeadKernelError: the kernel died while running this cell"]))
            return cell, resources, DEAD_KERNEL
        except CellTimeoutError:   # the kernel went silent even after it was interrupted
            cell.outputs.append(new_output("error", ename=CELL_TIMEOUT, evalue="no reply from the kernel in time",
                                           traceback=["CellTimeoutError: the cell did not finish within the time limit"]))
            return cell, resources, CELL_TIMEOUT
        except Exception as e:   # a message nbclient cannot read (the kernel can send anything): stop, keep grading
            said = one_line(f"{type(e).__name__}: {e}"[:300])
            cell.outputs.append(new_output("error", ename=UNREADABLE_MESSAGE, evalue=said, traceback=[
                f"UnreadableKernelMessage: the kernel sent a message the grader could not read ({said})"]))
            return cell, resources, UNREADABLE_MESSAGE
        return cell, resources, CELL_TIMEOUT if self._timed_out else None

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
PROBE_SERVER_WAIT = 20   # seconds the kernel waits at most for the probe server's imports (about 3 s on 2 idle cores)


def _record_path(preprocessor: NbGraderPreprocessor, resources: dict) -> Path:
    """Where this notebook's grading record goes (Course.record), in the course nbgrader runs in."""
    from autograder.course import nbgrader_course

    return nbgrader_course(preprocessor.config).record(resources.get("nbgrader", {}).get("student", ""))


class StartHiddenChecks(NbGraderPreprocessor):
    """Starts the hidden checks before the kernel executes the notebook: they need only its code.

    The kernel starts once the checks' probe server has imported torch (at most PROBE_SERVER_WAIT
    seconds later): the probes are what the grade waits for, and a kernel importing torch at
    the same time slowed them down by more than it gained (README, "How long grading takes").
    """

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        from autograder.grading.run_checks import start_grading   # imported late: nbgrader loads this config for every command

        _record_path(self, resources).unlink(missing_ok=True)   # a file the submission's folder brought along
        started = time.monotonic()
        running = start_grading(nb, unconfined=Sandbox(parent=self).unconfined)
        finished = []
        running.future.add_done_callback(lambda _: finished.append(time.monotonic()))
        resources[RUNNING_CHECKS] = (running, started, finished)
        if running.workdir is not None:   # the checks run
            if running.wait_for_probe_server(PROBE_SERVER_WAIT):
                self.log.info("the kernel starts now: the hidden checks' probe server took %.1f s to import torch",
                              time.monotonic() - started)
            elif not running.done():
                self.log.warning("the hidden checks' probe server had not imported torch after %d s: the kernel "
                                 "starts anyway, beside it", PROBE_SERVER_WAIT)
        return nb, resources


class HiddenChecks(NbGraderPreprocessor):
    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        from autograder.grading.run_checks import grade_notebook

        running = resources.pop(RUNNING_CHECKS, None)
        if running is None:
            grades = grade_notebook(nb, unconfined=Sandbox(parent=self).unconfined)
        else:
            checks, started, finished = running
            kernel_done = time.monotonic()
            grades = checks.result()
            self.log.info("the kernel had executed the notebook %.1f s after the hidden checks started; the checks "
                          "took %.1f s", kernel_done - started, (finished[0] if finished else time.monotonic()) - started)
        record = GradingRecord(events=list(resources.pop(EXECUTION_EVENTS, [])),
                               confined=not Sandbox(parent=self).unconfined)
        for cell in nb.cells:
            grade = grades.get(notebooks.nbgrader_meta(cell).get("grade_id"))
            if grade is None or not notebooks.is_autograded_test(cell):
                continue
            raised = [o for o in cell.get("outputs", []) if o.output_type == "error"]
            # on one line of printable text: what the kernel sent must not pass for a line of the report
            said = one_line(f"{raised[0].get('ename')}: {raised[0].get('evalue')}"[:300]) if raised else ""
            record.cells[grade.grade_id] = CellRecord(grade, said)
            cell.outputs = [new_output("stream", name="stdout", text=record.cells[grade.grade_id].report() + "\n"),
                            new_output("execute_result", data={"text/plain": f"{grade.score:g}"},
                                       execution_count=cell.get("execution_count"))]
            self.log.info("%s: %s of %s points", grade.grade_id, grade.score, grade.points)
        record.write(_record_path(self, resources))
        return nb, resources
