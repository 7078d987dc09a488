"""nbgrader preprocessors of this course (configured in nbgrader_config.py).

- `ExecuteUntilStuck` is nbgrader's Execute with the kernel confined by the sandbox policy
  (sandbox/kernel.py), and a kernel that dies or a cell that times out ends the execution
  (recorded in that cell) instead of the student's whole grading: the hidden checks do not need
  the kernel, so the student still gets every point earned.
- `StartHiddenChecks` starts the hidden checks, in the grading process, before the kernel runs
  (they read only the notebook's code); `HiddenChecks` waits for them after it, before `SaveAutoGrades`. For every
  autograded check cell it replaces the outputs the student's kernel produced with the hidden
  checks' report and the partial score, so that nbgrader records the score that trusted code
  computed, whatever the student's kernel printed.
- `KeepSubmittedClaims` runs first, before nbgrader clears the submitted outputs: it keeps in the
  notebook's metadata what the student's own run printed that grading reads (extract.SUBMITTED_KEY).
- `ShowReleasedChecks` keeps hidden tests out of the feedback students get; `ShowSubmittedRun` puts
  the student's own figures and printed numbers (as submitted) above the grader's short check run in
  every cell a question discusses.
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
from assignment.paths import RELEASE_NOTEBOOK

from .sandbox.kernel import ConfinedKernelManager, Sandbox


MAX_KERNEL_OUTPUT_BYTES = 64 * 2**20   # what the kernel may send as outputs, all cells together


class ExecuteUntilStuck(Execute):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", ConfinedKernelManager)   # nbgrader's own default is unconfined
        super().__init__(*args, **kwargs)

    # The kernel's messages are untrusted too: nbgrader keeps every output in memory and writes them all,
    # so outputs beyond a total are dropped here, and display updates (one small message that would be
    # copied into every earlier output with the same display id) are ignored.
    def output(self, outs, msg, display_id, cell_index):
        self._output_bytes = getattr(self, "_output_bytes", 0) + len(json.dumps(msg.get("content", {}), default=str))
        if self._output_bytes > MAX_KERNEL_OUTPUT_BYTES:
            return None
        return super().output(outs, msg, None, cell_index)

    def _update_display_id(self, display_id, msg):
        return None

    def preprocess_cell(self, cell, resources, index):
        if getattr(self, "_stuck", None) and cell.cell_type == "code":
            cell.outputs = []   # not run: an earlier cell killed the kernel or timed out
            return cell, resources
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError as e:
            self._stuck = "DeadKernelError"
            cell.outputs.append(new_output("error", ename="DeadKernelError", evalue=str(e)[:300],
                                           traceback=["DeadKernelError: the kernel died while running this cell"]))
            return cell, resources
        except Exception as e:   # a message nbclient cannot read (the kernel can send anything): stop, keep grading
            self._stuck = "UnreadableKernelMessage"
            said = " ".join(f"{type(e).__name__}: {e}"[:300].split())
            cell.outputs.append(new_output("error", ename="UnreadableKernelMessage", evalue=said, traceback=[
                f"UnreadableKernelMessage: the kernel sent a message the grader could not read ({said})"]))
            return cell, resources
        if any(o.output_type == "error" and o.ename == "CellTimeoutError" for o in cell.get("outputs", [])):
            self._stuck = "CellTimeoutError"
        return cell, resources

    def preprocess(self, nb, resources=None, km=None):
        self._stuck, self._output_bytes = None, 0
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
        from .extract import keep_submitted_claims
        keep_submitted_claims(nb)
        return nb, resources


# Where StartHiddenChecks leaves the running checks for HiddenChecks (nbconvert hands `resources` from
# one preprocessor to the next within a notebook's conversion).
RUNNING_CHECKS = "vae_running_hidden_checks"


class StartHiddenChecks(NbGraderPreprocessor):
    """Starts the hidden checks before the kernel executes the notebook: they need only its code."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        from .run_checks import start_grading   # imported late: nbgrader loads this config for every command

        started = time.monotonic()
        running = start_grading(nb, unconfined=Sandbox(parent=self).unconfined)
        finished = []
        running.add_done_callback(lambda _: finished.append(time.monotonic()))
        resources[RUNNING_CHECKS] = (running, started, finished)
        return nb, resources


class HiddenChecks(NbGraderPreprocessor):
    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        from .run_checks import grade_notebook

        running = resources.pop(RUNNING_CHECKS, None)
        if running is None:
            grades = grade_notebook(nb, unconfined=Sandbox(parent=self).unconfined)
        else:
            future, started, finished = running
            kernel_done = time.monotonic()
            grades = future.result()
            self.log.info("the kernel executed the notebook in %.1f s; the hidden checks took %.1f s beside it",
                          kernel_done - started, (finished[0] if finished else time.monotonic()) - started)
        for cell in nb.cells:
            grade = grades.get(notebooks.nbgrader_meta(cell).get("grade_id"))
            if grade is None or not notebooks.is_autograded_test(cell):
                continue
            report = grade.report()
            raised = [o for o in cell.get("outputs", []) if o.output_type == "error"]
            if raised:   # on one line: what the kernel sent must not pass for a line of the report
                said = " ".join(f"{raised[0].ename}: {raised[0].evalue}"[:300].split())
                report += f"\n  (In your notebook this cell raised {said})"
            cell.outputs = [new_output("stream", name="stdout", text=report + "\n"),
                            new_output("execute_result", data={"text/plain": f"{grade.score:g}"},
                                       execution_count=cell.get("execution_count"))]
            self.log.info("%s: %s of %s points", grade.grade_id, grade.score, grade.points)
        return nb, resources


class ShowReleasedChecks(NbGraderPreprocessor):
    """For feedback: every check cell shows the code students were given, never the hidden tests.

    nbgrader's feedback shows the autograded notebook, whose check cells hold the hidden tests
    again (nbgrader #917). Taking each check cell's source from the trusted release, by grade
    id, leaves nothing to strip and nothing a student could break with a stray delimiter.
    """

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        released = notebooks.cells_by_grade_id(notebooks.read(RELEASE_NOTEBOOK))
        for cell in nb.cells:
            grade_id = notebooks.nbgrader_meta(cell).get("grade_id")
            if grade_id in released and notebooks.is_autograded_test(released[grade_id]):
                cell.source = released[grade_id].source
        return nb, resources


class ShowSubmittedRun(NbGraderPreprocessor):
    """For feedback: each figure cell a question discusses shows the student's own run, then the grader's.

    The autograded notebook holds nbgrader's fast-mode re-execution, whose figures are not the
    student's results. The submitted notebook (nbgrader's `submitted` folder) holds their own run;
    only its PNG images and printed text are copied (review.evidence), labelled as submitted.
    """

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        from nbgrader.coursedir import CourseDirectory

        from assignment.parts import QUESTIONS
        from .review import CHECK_RUN_BUDGET, evidence

        info = resources.get("nbgrader", {})
        coursedir = CourseDirectory(config=self.config)
        path = Path(coursedir.format_path(coursedir.submitted_directory, info.get("student", ""),
                                          info.get("assignment", ""))) / f"{info.get('notebook', '')}.ipynb"
        try:
            submitted = notebooks.read(path)
        except Exception:
            submitted = None
        figure_cells = {cell for question in QUESTIONS for cell in question.figures}
        for cell in nb.cells:
            grade_id = notebooks.nbgrader_meta(cell).get("grade_id")
            if grade_id not in figure_cells or cell.cell_type != "code":
                continue
            own = evidence(submitted, (grade_id,)) if submitted is not None else None
            shown = [new_output("stream", name="stdout", text="▶ As you submitted it (your own run):\n")]
            if own is None or not (own.figures or own.printed):
                shown.append(new_output("stream", name="stdout", text="  no figure submitted: this cell had no outputs "
                                        "in the notebook you handed in, so your TA sees only the check run below.\n"))
            else:
                shown += [new_output("stream", name="stdout", text=text) for _, text in own.printed]
                shown += [new_output("display_data", data={"image/png": figure.png_base64, "text/plain": "<Figure>"})
                          for figure in own.figures]
            shown.append(new_output("stream", name="stdout",
                                    text=f"▶ The grader's short check run ({CHECK_RUN_BUDGET}; not your results):\n"))
            cell.outputs = shown + list(cell.get("outputs", []))
        return nb, resources
