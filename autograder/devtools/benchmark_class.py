"""Benchmark: grading a whole class end to end, against grading one submission alone.

    vae-course benchmark-class [--students 30] [--workers N]

The class is the demonstration class (tests/demo_class) repeated under distinct student ids.
"One alone" is the mean over the demonstration class's distinct notebooks, each graded by itself
in a fresh course, because they differ in cost (the stubbed release trains nothing) and the class
mixes them in the same proportions. Prints that, the class's wall time, its seconds per
submission, and their ratio (the target: at most 1.2x what one alone costs).
"""
from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

from autograder.devtools.demo_class import write_downloads

from autograder.intake.collect import collect
from autograder.course import Course
from autograder.workflow.grade_class import grade_class


def demo_notebooks(folder: Path) -> dict[str, bytes]:
    """The demonstration class's notebooks by student id."""
    roster = write_downloads(folder / "demo")
    return {student: d.data for student, d in sorted(collect(folder / "demo", roster).submissions.items())}


def class_downloads(folder: Path, notebooks: list[bytes], students: int) -> Path:
    """`students` notebooks named <id>_vae.ipynb, cycling through `notebooks`."""
    downloads = folder / "downloads"
    downloads.mkdir()
    for n in range(students):
        (downloads / f"student{n:03d}_vae.ipynb").write_bytes(notebooks[n % len(notebooks)])
    return downloads


def timed_class(downloads: Path, course_root: Path, workers: int | None, progress: bool = True) -> float:
    started = time.perf_counter()
    result = grade_class(downloads, Course(course_root), workers=workers, progress=progress)
    seconds = time.perf_counter() - started
    failed = [s for s, r in result.students.items() if r.status != "graded"]
    if failed:
        print(f"  (not graded: {failed})")
    return seconds


def timed_alone(folder: Path, name: str, notebook: bytes) -> float:
    """One notebook graded by itself, in a course of its own, one worker."""
    downloads = folder / f"alone-{name}"
    downloads.mkdir()
    (downloads / f"{name}_vae.ipynb").write_bytes(notebook)
    return timed_class(downloads, folder / f"course-{name}", workers=1, progress=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="vae-course benchmark-class", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--workers", type=int, help="students at once (default: grade_class's default)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-class-") as scratch:
        scratch = Path(scratch)
        notebooks = demo_notebooks(scratch)
        alone = {}
        for name, notebook in notebooks.items():
            alone[name] = timed_alone(scratch, name, notebook)
            print(f"alone: {name:<6} {alone[name]:6.1f} s")
        names = list(itertools.islice(itertools.cycle(notebooks), args.students))
        one = sum(alone[name] for name in names) / args.students
        print(f"one submission alone, weighted as in the class: {one:.1f} s")
        downloads = class_downloads(scratch, list(notebooks.values()), args.students)
        whole = timed_class(downloads, scratch / "course-class", args.workers)
        per = whole / args.students
        print(f"class of {args.students}: {whole:.0f} s wall, {per:.1f} s per submission, "
              f"{per / one:.2f}x one alone (target <= 1.2x)")


if __name__ == "__main__":
    main()
