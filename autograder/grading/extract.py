"""Turn a student's notebook into the code the hidden checks call.

assignment/grader_view.py decides which cells count (notebook_code: the provided ones from the
trusted release, so an edited provided cell changes nothing; the solution cells and every cell
the student added from the submission) and, statement by statement, what runs (grader_view).
The notebook's self-check and check cells run the same code, so students hear what is skipped.
"""
from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from assignment.grader_view import GraderView, grader_view, notebook_code
from assignment.grader_view import printed_best_beta as grader_view_printed_best_beta

if TYPE_CHECKING:   # the hidden checks import this module: nbformat (and jsonschema) would cost them a second
    from nbformat import NotebookNode

# Where nbgrader_plugin.KeepSubmittedClaims keeps, before nbgrader clears the outputs and re-executes the
# notebook in fast mode, what the student's own run printed: {"printed_best_beta": "1.0" or None}.
SUBMITTED_KEY = "vae_submitted_run"


@dataclass
class StudentCode:
    statements: list[tuple[str, int, str]]               # (cell label, first line, source): what the sandbox runs
    view: GraderView                                      # what was kept, left out, and why
    missing_cells: list[str] = field(default_factory=list)  # solution cells not found in the submission
    printed_best_beta: str | None = None                  # best_beta as the student's own run printed it in 3d
    unparsable_names: dict[str, list[str]] = field(default_factory=dict)   # cell label -> the words in it

    @property
    def source(self) -> str:
        """The statements as one file, for people reading it (the sandbox loads them one by one)."""
        return "\n\n".join(f"# --- {label}, line {line}\n{text}" for label, line, text in self.statements) + "\n"

    def write(self, path: Path) -> None:
        """The file the hidden checks read (--submission): statements, and what the grader left out."""
        missing = {name: {"cell": left.cell, "line": left.line, "reason": left.reason}
                   for name, left in self.view.missing.items()}
        binds = [list(kept.binds) for kept in self.view.kept]
        path.write_text(json.dumps({"statements": self.statements, "binds": binds, "left_out": missing,
                                    "unparsable": self.view.unparsable, "unparsable_names": self.unparsable_names,
                                    "printed_best_beta": self.printed_best_beta}), encoding="utf-8")


def printed_best_beta(submission: NotebookNode) -> str | None:
    """The value of best_beta that check 3d printed in the student's run, as text (None when it did not run)."""
    return grader_view_printed_best_beta(submission.cells)


def keep_submitted_claims(nb: NotebookNode) -> None:
    """Record, in the notebook's metadata, what the student's own run printed that grading reads.

    Always overwritten: whatever the submission's metadata said is replaced by what its outputs say.
    """
    nb.metadata[SUBMITTED_KEY] = {"printed_best_beta": printed_best_beta(nb)}


def submitted_best_beta(nb: NotebookNode) -> str | None:
    """best_beta as the student's run printed it: kept before nbgrader re-ran the notebook, or in its outputs."""
    kept = nb.metadata.get(SUBMITTED_KEY)
    if isinstance(kept, dict):
        value = kept.get("printed_best_beta")
        return value[:100] if isinstance(value, str) else None
    return printed_best_beta(nb)


def printed_number(text: str | None) -> float | None:
    """`text` as a finite number, or None."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


_BUILDING_ASTS = threading.Lock()


def _view(cells: list) -> GraderView:
    """grader_view(cells), one thread at a time.

    On Python 3.11 all threads building a syntax tree share one depth counter (CPython gh-106905): a
    garbage collection during one thread's ast.parse can hand the GIL to another thread whose parse
    resets it, and the first fails with "SystemError: AST constructor recursion depth mismatch". The
    lock keeps our threads apart (the corpus tests and the devtools grade in threads); the one retry
    covers a parse outside it, such as pytest or traceback formatting an error meanwhile. The lock is
    here, not in grader_view.py, because students' notebooks carry that file verbatim.
    """
    with _BUILDING_ASTS:
        try:
            return grader_view(cells)
        except SystemError:
            return grader_view(cells)


def student_code(submission: NotebookNode, release: NotebookNode) -> StudentCode:
    """The code the checks run: the release's provided cells and the submission's own, in notebook order."""
    cells, missing = notebook_code(submission.cells, release.cells)
    view = _view(cells)
    statements = [(kept.cell, kept.line, kept.source) for kept in view.kept]
    words = {label: sorted(set(re.findall(r"[A-Za-z_]\w*", source)))[:10_000] for label, source in cells
             if label in view.unparsable}
    return StudentCode(statements, view, missing, submitted_best_beta(submission), words)
