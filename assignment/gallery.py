"""A gallery of an executed solution notebook: what a correct run produces, for TAs and instructors.

`vae-course run --full --gallery docs/reference-run` executes the solution with the
real settings and writes, into the folder, every figure as a PNG and a README.md that lists, cell
by cell, how long it took, what it printed and which figures it drew, with the machine it ran on.
TAs compare a student's figures with it; the committed copy in docs/reference-run is one such run.
"""
from __future__ import annotations

import os
import platform
from datetime import datetime
from pathlib import Path

from nbformat import NotebookNode

from . import notebooks

PRINTED_LIMIT = 1500   # characters of a cell's printed output quoted in the gallery


def cell_seconds(cell: NotebookNode) -> float | None:
    """How long the kernel took to run a cell, from the timing nbclient records in its metadata."""
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return None
    parse = lambda stamp: datetime.fromisoformat(stamp.replace("Z", "+00:00"))   # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def write_gallery(nb: NotebookNode, seconds: float, folder: Path, mode: str, device: str) -> Path:
    """Write the figures of `nb` and a README.md describing the run into `folder`; return the README's path."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    figures = notebooks.save_images(nb, folder)
    by_cell: dict[str, list[Path]] = {}
    for path in figures:
        by_cell.setdefault(path.stem.rsplit("-", 1)[0], []).append(path)
    lines = [f"# The solution notebook, executed with {mode}", "",
             f"Executed in **{seconds / 60:.1f} minutes** ({seconds:.0f} s, kernel start included) on {device}: "
             f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.python_implementation()} "
             f"{platform.python_version()}. Made by `vae-course run --full --gallery <folder>`; "
             f"MNIST from `MNIST_ROOT` (the training split's size is printed by part1_data below).", "",
             "| cell | seconds | figures |", "|---|---|---|"]
    for cell in nb.cells:
        grade_id = notebooks.nbgrader_meta(cell).get("grade_id")
        if cell.cell_type != "code" or not grade_id:
            continue
        took = cell_seconds(cell)
        shown = ", ".join(f"[{p.name}]({p.name})" for p in by_cell.get(grade_id, []))
        lines.append(f"| {grade_id} | {'' if took is None else f'{took:.1f}'} | {shown} |")
    lines.append("")
    for cell in nb.cells:
        grade_id = notebooks.nbgrader_meta(cell).get("grade_id")
        printed = notebooks.stream_text(cell, "stdout").strip() if cell.cell_type == "code" else ""
        if not grade_id or not (printed or grade_id in by_cell):
            continue
        lines += [f"## {grade_id}", ""]
        if printed:
            lines += ["```", printed[:PRINTED_LIMIT] + ("\n[...]" if len(printed) > PRINTED_LIMIT else ""), "```", ""]
        lines += [f"![{p.stem}]({p.name})" for p in by_cell.get(grade_id, [])] + [""]
    readme = folder / "README.md"
    readme.write_text("\n".join(lines), encoding="utf-8")
    return readme
