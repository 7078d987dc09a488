"""A small demonstration class: downloads as students send them, built from tests/demo_class/.

The class is the instructor's solution (downloaded as `ada_vae.ipynb`; its check cells hold the
hidden tests, so it is flagged as edited, which shows a TA what tampering looks like), the untouched release
(`Copy of vae (1).ipynb`, mapped by the roster), and the realistic partial submissions of
tests/demo_class/*.py (see its README). They are built from the current release, so the demo
never drifts from the notebook students get.
"""
from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path

import nbformat

from assignment import notebooks
from assignment.paths import RELEASE_NOTEBOOK, REPO_ROOT, SOURCE_NOTEBOOK

SPECS = REPO_ROOT / "tests" / "demo_class"
MARKERS = re.compile(r"^\s*### (BEGIN|END) (SOLUTION|HIDDEN TESTS)\s*\n", re.M)


def solution(grade_id: str) -> str:
    """The instructor's code of a cell as a student who got it right would submit it (no nbgrader markers)."""
    return MARKERS.sub("", notebooks.cells_by_grade_id(notebooks.read(SOURCE_NOTEBOOK))[grade_id].source)


def load_spec(path: Path) -> dict:
    namespace = {"solution": solution}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return {key: namespace[key] for key in ("FILE", "STUDENT", "CELLS", "__doc__")}


def who_is_who() -> list[str]:
    """A line per student of the class, so that the grade table reads as intended (flags included)."""
    return ["Ada sent the instructor's source notebook itself: it earns everything, and its check cells, "
            "which hold the hidden tests, are flagged as edited (nbgrader grades with the release's).",
            "Bob downloaded the release and sent it untouched.",
            *(load_spec(path)["__doc__"].strip().splitlines()[0] for path in sorted(SPECS.glob("*.py")))]


def student_notebook(cells: dict[str, str]) -> nbformat.NotebookNode:
    nb = copy.deepcopy(notebooks.read(RELEASE_NOTEBOOK))
    by_id = notebooks.cells_by_grade_id(nb)
    for grade_id, source in cells.items():
        by_id[grade_id].source = source
    return nb


def write_downloads(folder: Path) -> Path:
    """Write the class's downloads into `folder` (emptied first); return the roster CSV beside it."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    shutil.copyfile(SOURCE_NOTEBOOK, folder / "ada_vae.ipynb")
    shutil.copyfile(RELEASE_NOTEBOOK, folder / "Copy of vae (1).ipynb")
    roster = ["student_id,file", "bob,Copy of vae (1).ipynb"]
    for path in sorted(SPECS.glob("*.py")):
        spec = load_spec(path)
        target = folder / spec["FILE"]
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(student_notebook(spec["CELLS"]), str(target))
        if spec["STUDENT"]:
            roster.append(f"{spec['STUDENT']},{spec['FILE']}")
    roster_path = folder.parent / f"{folder.name}-roster.csv"
    roster_path.write_text("\n".join(roster) + "\n")
    return roster_path
