"""Turn a student's notebook into the module the hidden checks call.

Only the student's definitions are taken, never their top-level statements: a solution cell
may also train models, print or plot, and none of that should run (or cost time) in a check.
The cells the course provides (imports, AutoEncoder) come from the trusted release, not from
the student's copy, so an edited provided cell changes nothing.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field

from nbformat import NotebookNode

from assignment import notebooks

# Provided cells the student's definitions rely on, taken from the release.
PROVIDED_CELLS = ("setup", "autoencoder_class")


@dataclass
class StudentCode:
    source: str                                           # what the sandbox executes
    missing_cells: list[str] = field(default_factory=list)  # solution cells not found in the submission
    unparsable_cells: dict[str, str] = field(default_factory=dict)  # grade id -> SyntaxError message
    skipped_statements: int = 0                          # top-level statements left out


def _calls_anything(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Call) for n in ast.walk(node))


def _keep(statement: ast.stmt) -> bool:
    """Definitions, imports, and assignments of values that call nothing (best_beta = 1.0, sizes = [32, 64])."""
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)):
        return True
    if isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
        return not _calls_anything(statement.value)
    return False


def definitions_of(source: str) -> tuple[str, int]:
    """The top-level statements of `source` that define things, and how many others were left out.

    Lines starting with % or ! (IPython magics and shell commands) are blanked first.
    """
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    tree = ast.parse("\n".join(lines))
    kept = [s for s in tree.body if _keep(s)]
    return "\n\n".join(ast.unparse(s) for s in kept), len(tree.body) - len(kept)


def student_code(submission: NotebookNode, release: NotebookNode) -> StudentCode:
    """The code the checks run: the release's provided cells, then the submission's solution cells."""
    released = notebooks.cells_by_grade_id(release)
    submitted = notebooks.cells_by_grade_id(submission)
    parts = [released[grade_id].source for grade_id in PROVIDED_CELLS]
    result = StudentCode(source="")
    solution_ids = [gid for gid, cell in released.items()
                    if cell.cell_type == "code" and notebooks.nbgrader_meta(cell).get("solution")]
    for grade_id in solution_ids:
        cell = submitted.get(grade_id)
        if cell is None:
            result.missing_cells.append(grade_id)
            continue
        try:
            code, skipped = definitions_of(cell.source)
        except SyntaxError as e:
            result.unparsable_cells[grade_id] = f"line {e.lineno}: {e.msg}"
            continue
        result.skipped_statements += skipped
        parts.append(f"# --- {grade_id}\n{code}")
    # The provided AutoEncoder refers to the student's Encoder and Decoder by name at call time,
    # so its position before them does not matter.
    result.source = "\n\n".join(parts) + "\n"
    return result
