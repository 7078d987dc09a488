"""Run nbgrader's command line for this course, from the right directory and environment.

`python -m assignment.nbgrader_cli ARGS` is `nbgrader ARGS`, started without one optional import
(main below): every student's grading is one nbgrader process, and it waits for its imports
before the kernel or the hidden checks start.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from .environment import course_env
from .paths import ASSIGNMENT, NBGRADER_CONFIG, REPO_ROOT


# nbgrader's command line, as this course starts it.
NBGRADER = [sys.executable, "-m", "assignment.nbgrader_cli"]


def main() -> None:
    """nbgrader's own main, with jsonschema's IRI format checker left out.

    jsonschema imports rfc3987_syntax when it is installed (jupyter-events asks for it), and that
    import builds a grammar: almost a second of every nbgrader start. No schema nbgrader or nbformat
    validates has an "iri" format, and jsonschema expects the import to fail (it then has no such checker).
    """
    sys.modules.setdefault("rfc3987_syntax", None)   # importing it now raises ImportError
    from nbgrader.apps.nbgraderapp import main as nbgrader_main
    nbgrader_main()


def run_nbgrader(args: list[str], course_root: Path = REPO_ROOT, check: bool = True) -> subprocess.CompletedProcess:
    """`nbgrader <args>` with course_root as working directory (nbgrader reads its config from there)."""
    result = subprocess.run([*NBGRADER, *args], cwd=course_root, env=course_env(),
                            capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def generate_release(course_root: Path = REPO_ROOT) -> Path:
    """Regenerate release/vae/ from solutions/vae/ with nbgrader; return the release notebook.

    Also records the assignment's cells in that course root's gradebook, which
    `nbgrader autograde` needs later.
    """
    run_nbgrader(["generate_assignment", ASSIGNMENT, "--force"], course_root)
    return course_root / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"


def lay_out_course(root: Path) -> None:
    """Make `root` an nbgrader course of this assignment (config and source), unless it is one already.

    Like a fresh instructor checkout with its own gradebook: tests, demonstrations and grading
    runs elsewhere never touch the repository's gradebook.
    """
    root.mkdir(parents=True, exist_ok=True)
    if (root / NBGRADER_CONFIG.name).exists():
        return
    shutil.copy2(NBGRADER_CONFIG, root / NBGRADER_CONFIG.name)
    shutil.copytree(REPO_ROOT / "solutions", root / "solutions")


def generate_release_elsewhere(workdir: Path) -> Path:
    """Generate the release in a scratch copy of the course (own gradebook), leaving the repo untouched."""
    lay_out_course(workdir)
    return generate_release(workdir)


def validate(notebook: Path, invert: bool = False) -> subprocess.CompletedProcess:
    """`nbgrader validate` (executes the notebook; --invert passes when some check fails)."""
    args = ["validate", str(notebook)] + (["--invert"] if invert else [])
    return run_nbgrader(args, check=False)


if __name__ == "__main__":
    main()
