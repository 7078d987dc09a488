"""Reading the nbgrader side of a notebook: graded cells, points, errors, images."""
from __future__ import annotations

import base64
from collections import defaultdict
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from .parts import part_of


def read(path: Path) -> NotebookNode:
    return nbformat.read(str(path), as_version=4)


def nbgrader_meta(cell: NotebookNode) -> dict:
    """A cell's nbgrader metadata, or {}. In a submission metadata can be anything: a grade id that is not
    text is left out (it names no cell of the assignment)."""
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    if not isinstance(meta, dict):
        return {}
    if isinstance(meta.get("grade_id"), (str, type(None))):
        return meta
    return {key: value for key, value in meta.items() if key != "grade_id"}


def cells_by_grade_id(nb: NotebookNode) -> dict[str, NotebookNode]:
    """Cells by grade id (the last one when a submission repeats an id)."""
    return {nbgrader_meta(c)["grade_id"]: c for c in nb.cells if nbgrader_meta(c).get("grade_id") is not None}


def graded_cells(nb: NotebookNode) -> list[NotebookNode]:
    """Cells that carry points: autograded test cells and manually graded answers."""
    return [c for c in nb.cells if nbgrader_meta(c).get("grade")]


def is_autograded_test(cell: NotebookNode) -> bool:
    meta = nbgrader_meta(cell)
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def is_manual_answer(cell: NotebookNode) -> bool:
    meta = nbgrader_meta(cell)
    return bool(meta.get("grade")) and bool(meta.get("solution"))


def points_by_grade_id(nb: NotebookNode) -> dict[str, float]:
    return {nbgrader_meta(c)["grade_id"]: float(nbgrader_meta(c).get("points", 0)) for c in graded_cells(nb)}


def points_by_part(nb: NotebookNode) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for grade_id, points in points_by_grade_id(nb).items():
        totals[part_of(grade_id)] += points
    return dict(totals)


def first_error(nb: NotebookNode) -> tuple[int, NotebookNode, NotebookNode] | None:
    """(cell index, cell, error output) of the first cell that raised, in an executed notebook."""
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                return index, cell, output
    return None


def stream_text(cell: NotebookNode, name: str) -> str:
    """What a code cell printed to `name` ("stdout" or "stderr")."""
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == name)


def stderr_text(cell: NotebookNode) -> str:
    return stream_text(cell, "stderr")


def save_images(nb: NotebookNode, directory: Path) -> list[Path]:
    """Write every PNG output of an executed notebook as <grade id>-<n>.png; return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for cell in nb.cells:
        name = nbgrader_meta(cell).get("grade_id", "cell")
        pngs = [o["data"]["image/png"] for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        for n, png in enumerate(pngs, start=1):
            path = directory / f"{name}-{n}.png"
            path.write_bytes(base64.b64decode(png))
            written.append(path)
    return written


GRADER_VIEW_HEADER = (
    "# What the autograder runs of your code (provided: run it, do not edit it). The check cells and the\n"
    "# self-check call it to tell you when one of your functions uses something the autograder will not have.\n"
    "# It is the autograder's own code (assignment/grader_view.py of the course), copied here unchanged.\n\n")


def grader_view_cell_source() -> str:
    """The notebook's grader_view cell: assignment/grader_view.py verbatim, under a header for students."""
    return GRADER_VIEW_HEADER + (Path(__file__).parent / "grader_view.py").read_text(encoding="utf-8")


def sync_grader_view(path: Path) -> bool:
    """Copy assignment/grader_view.py into the grader_view cell of the notebook at `path`; True if it changed."""
    nb = read(path)
    cell = cells_by_grade_id(nb)["grader_view"]
    if cell.source == grader_view_cell_source():
        return False
    cell.source = grader_view_cell_source()
    nbformat.write(nb, str(path))
    return True
