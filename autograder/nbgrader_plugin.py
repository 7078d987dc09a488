"""The nbgrader preprocessor that puts the hidden checks' verdicts into the autograded notebook.

It runs after `Execute` and before `SaveAutoGrades` (see nbgrader_config.py), in the grading
process. For every autograded check cell it replaces the outputs the student's kernel
produced with the hidden checks' report and the partial score, so that nbgrader records the
score that trusted code computed, whatever the student's kernel printed.
"""
from __future__ import annotations

from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor

from assignment import notebooks


class HiddenChecks(NbGraderPreprocessor):
    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        from .run_checks import grade_notebook   # imported late: nbgrader loads this config for every command

        grades = grade_notebook(nb)
        for cell in nb.cells:
            grade = grades.get(notebooks.nbgrader_meta(cell).get("grade_id"))
            if grade is None or not notebooks.is_autograded_test(cell):
                continue
            report = grade.report()
            raised = [o for o in cell.get("outputs", []) if o.output_type == "error"]
            if raised:
                report += f"\n  (In your notebook this cell raised {raised[0].ename}: {raised[0].evalue})"
            cell.outputs = [new_output("stream", name="stdout", text=report + "\n"),
                            new_output("execute_result", data={"text/plain": f"{grade.score:g}"},
                                       execution_count=cell.get("execution_count"))]
            self.log.info("%s: %s of %s points", grade.grade_id, grade.score, grade.points)
        return nb, resources
