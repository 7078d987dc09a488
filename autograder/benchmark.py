"""Time the grading of one submission, stage by stage (a benchmark, not a test).

    python -m autograder.benchmark [--runs 3]

Stages: the kernel execution of the notebook in fast mode (what nbgrader's Execute does), one
sandbox start (a probe that does nothing), each check file alone, all hidden checks as grading
runs them (two workers), and the whole of `nbgrader autograde` for one submission (execution,
hidden checks, gradebook). Prints the median of the runs for each.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from assignment import notebooks
from assignment.environment import course_env
from assignment.execute import execute
from assignment.nbgrader_cli import generate_release_elsewhere, run_nbgrader
from assignment.paths import RELEASE_NOTEBOOK, REPO_ROOT, SOURCE_NOTEBOOK
from autograder.sandbox import runner as sandbox
from autograder.extract import student_code
from autograder.run_checks import CHECKS_DIR, grade_notebook


EMPTY_PROBE = "def nothing(student, inputs):\n    return {}\n"


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    source = notebooks.read(SOURCE_NOTEBOOK)
    scratch = Path(tempfile.mkdtemp(prefix="vae-benchmark-"))
    extracted = student_code(source, notebooks.read(RELEASE_NOTEBOOK))
    extracted.write(scratch / "submission.json")
    code = extracted.statements

    def check_file(path: Path):
        return lambda: subprocess.run([sys.executable, "-m", "pytest", str(path), "-q", "-p", "no:cacheprovider",
                                       f"--basetemp={tempfile.mkdtemp(dir=scratch)}", f"--submission={scratch / 'submission.json'}"],
                                      cwd=REPO_ROOT, env=course_env(), capture_output=True, check=True)

    course = Path(tempfile.mkdtemp(dir=scratch))
    generate_release_elsewhere(course)
    (course / "submitted" / "student" / "vae").mkdir(parents=True)
    shutil.copy2(SOURCE_NOTEBOOK, course / "submitted" / "student" / "vae" / "vae.ipynb")

    stages = {
        "kernel execution (fast mode)": lambda: execute(SOURCE_NOTEBOOK, Path(tempfile.mkdtemp(dir=scratch)), fast=True),
        "sandbox start, one child per probe (empty probe)": lambda: sandbox.run(code, EMPTY_PROBE, "nothing", {},
                                                                                Path(tempfile.mkdtemp(dir=scratch))),
        "sandbox start, forked by the probe server": lambda: server.run(code, EMPTY_PROBE, "nothing", {},
                                                                         Path(tempfile.mkdtemp(dir=scratch))),
        **{f"checks {path.stem.removeprefix('test_')} (alone)": check_file(path) for path in sorted(CHECKS_DIR.glob("test_*.py"))},
        "all hidden checks (2 workers)": lambda: grade_notebook(source),
        "one submission through nbgrader autograde, end to end": lambda: run_nbgrader(
            ["autograde", "vae", "--create", "--force"], course),
    }
    server = sandbox.ProbeServer()
    server.run(code, EMPTY_PROBE, "nothing", {}, Path(tempfile.mkdtemp(dir=scratch)))   # started: torch imported
    print(f"Grading the reference solution: median of {args.runs} runs per stage, seconds")
    for name, action in stages.items():
        seconds = [timed(action) for _ in range(args.runs)]
        print(f"{name:52s} {statistics.median(seconds):7.2f}   (min {min(seconds):.2f}, max {max(seconds):.2f})", flush=True)
    server.close()


if __name__ == "__main__":
    main()
