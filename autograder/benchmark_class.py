"""Benchmark: grading a whole class end to end, against grading one submission alone.

    python -m autograder.benchmark_class [--students 30] [--workers N]

The class is the demonstration class (tests/demo_class) repeated under distinct student ids.
Prints the wall time of one submission graded alone, of the class, the seconds per submission,
and their ratio (the target: a class costs at most 1.2x per submission what one alone costs).
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from assignment.demo_class import write_downloads

from .collect import collect
from .course import Course
from .grade_class import grade_class


def class_downloads(folder: Path, students: int) -> Path:
    """`students` notebooks named <id>_vae.ipynb, cycling through the demonstration class."""
    demo = write_downloads(folder / "demo")
    notebooks = [d.data for d in collect(folder / "demo", demo).submissions.values()]
    downloads = folder / "downloads"
    downloads.mkdir()
    for n in range(students):
        (downloads / f"student{n:03d}_vae.ipynb").write_bytes(notebooks[n % len(notebooks)])
    return downloads


def timed_class(downloads: Path, course_root: Path, workers: int | None) -> float:
    started = time.perf_counter()
    result = grade_class(downloads, Course(course_root), workers=workers, progress=True)
    seconds = time.perf_counter() - started
    failed = [s for s, r in result.students.items() if r.status != "graded"]
    if failed:
        print(f"  (not graded: {failed})")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--workers", type=int, help="students at once (default: grade_class's default)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-class-") as scratch:
        scratch = Path(scratch)
        downloads = class_downloads(scratch, args.students)
        alone = scratch / "alone"
        alone.mkdir()
        shutil.copy2(downloads / "student000_vae.ipynb", alone)
        one = timed_class(alone, scratch / "course-one", args.workers)
        print(f"one submission alone: {one:.0f} s")
        whole = timed_class(downloads, scratch / "course-class", args.workers)
        per = whole / args.students
        print(f"class of {args.students}: {whole:.0f} s wall, {per:.1f} s per submission, "
              f"{per / one:.2f}x one alone (target <= 1.2x)")


if __name__ == "__main__":
    main()
