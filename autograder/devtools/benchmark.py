"""Time the grading of one submission against executing it once (a benchmark, not a test).

    vae-course benchmark [--runs 3] [--no-autograde]

In one run, for the reference solution and for the untouched release (a student who handed in
the stubs): the kernel execution of the solution notebook in fast mode (what nbgrader's Execute
does, the unit every ratio is in), one sandbox start (a probe that does nothing), each check
file alone, all hidden checks as grading runs them, and the whole of `nbgrader autograde` for one
submission (the kernel's execution with the hidden checks beside it, then the gradebook). Prints the median of
`--runs` runs of each, with its ratio to the fast-mode execution, and the torch device; last, the CPU
the checks' own pytest process spends on the solution (what a class pays per student besides the
probes, the kernel and nbgrader).
"""
from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import torch

from assignment import notebooks
from assignment.execute import execute
from assignment.nbgrader_cli import generate_release_elsewhere, run_nbgrader
from assignment.paths import RELEASE_NOTEBOOK, REPO_ROOT, SOURCE_NOTEBOOK
from autograder.course import Course
from autograder.sandbox import runner as sandbox
from autograder.grading.extract import student_code
from autograder.grading.run_checks import CHECKS_DIR, WORKERS, checks_env, checks_pytest, grade_notebook


EMPTY_PROBE = "def nothing(student, inputs):\n    return {}\n"


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def children_cpu(action) -> float:
    """CPU seconds of the processes `action` started and waited for (user + system).

    For the hidden checks that is their pytest process, the grader's side of them: the probe
    server's bubblewrap sandbox reaps its own children, so the probes' CPU is not in it.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    action()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def median_of(runs: int, action) -> tuple[float, float, float]:
    seconds = [timed(action) for _ in range(runs)]
    return statistics.median(seconds), min(seconds), max(seconds)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="vae-course benchmark", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs per stage; the median is printed")
    parser.add_argument("--no-autograde", action="store_true", help="leave out nbgrader autograde end to end (the slowest stage)")
    args = parser.parse_args(argv)
    release = notebooks.read(RELEASE_NOTEBOOK)
    submissions = {"solution": notebooks.read(SOURCE_NOTEBOOK), "release": release}
    scratch = Path(tempfile.mkdtemp(prefix="vae-benchmark-"))
    extracted = {name: student_code(notebook, release) for name, notebook in submissions.items()}
    code_files = {name: scratch / f"{name}.json" for name in submissions}
    for name, code_file in code_files.items():
        extracted[name].write(code_file)
    code = extracted["solution"].statements

    def check_file(path: Path, submission: Path):
        # check=False: the release fails its checks, which is what is being timed; with a report, as grading runs them
        def run():
            folder = Path(tempfile.mkdtemp(dir=scratch))
            return subprocess.run([*checks_pytest(), str(path), f"--basetemp={folder / 'probes'}",
                                   f"--submission={submission}", f"--report={folder / 'report.json'}",
                                   "--exit-when-reported"], cwd=REPO_ROOT, env=checks_env(), capture_output=True, check=False)
        return run

    courses = {}
    if not args.no_autograde:
        for name in submissions:
            course = courses[name] = Path(tempfile.mkdtemp(dir=scratch))
            generate_release_elsewhere(course)
            submitted = Course(course).submitted("student")
            submitted.parent.mkdir(parents=True)
            shutil.copy2(SOURCE_NOTEBOOK if name == "solution" else RELEASE_NOTEBOOK, submitted)

    print(f"Median of {args.runs} runs per stage, seconds; torch device: cpu "
          f"({torch.get_num_threads()} threads available; probes use one thread each)"
          + ("" if not torch.cuda.is_available() else "; a GPU is present but grading does not use it"), flush=True)
    execution, low, high = median_of(args.runs, lambda: execute(SOURCE_NOTEBOOK, Path(tempfile.mkdtemp(dir=scratch)), fast=True))
    print(f"{'kernel execution of the solution (fast mode)':56s} {execution:7.2f}   (min {low:.2f}, max {high:.2f})   = 1x", flush=True)

    server = sandbox.ProbeServer()
    server.run(code, EMPTY_PROBE, "nothing", {}, Path(tempfile.mkdtemp(dir=scratch)))   # started: torch imported
    for name, action in {
        "sandbox start, one child per probe (empty probe)": lambda: sandbox.run(code, EMPTY_PROBE, "nothing", {},
                                                                                Path(tempfile.mkdtemp(dir=scratch))),
        "sandbox start, forked by the probe server": lambda: server.run(code, EMPTY_PROBE, "nothing", {},
                                                                         Path(tempfile.mkdtemp(dir=scratch))),
    }.items():
        seconds, low, high = median_of(args.runs, action)
        print(f"{name:56s} {seconds:7.2f}   (min {low:.2f}, max {high:.2f})", flush=True)
    server.close()

    stages = {f"checks {path.stem.removeprefix('test_')} (alone)": {name: check_file(path, code_files[name]) for name in submissions}
              for path in sorted(CHECKS_DIR.glob("test_*.py"))}
    stages[f"all hidden checks, as grading runs them ({WORKERS} process)"] = {name: (lambda nb=notebook: grade_notebook(nb)) for name, notebook in submissions.items()}
    if not args.no_autograde:
        stages["one submission through nbgrader autograde, end to end"] = {
            name: (lambda course=course: run_nbgrader(["autograde", "vae", "--create", "--force"], course))
            for name, course in courses.items()}
    print(f"\n{'stage':56s} {'solution':>9s} {'/ exec':>7s} {'release':>9s} {'/ exec':>7s}")
    for stage, actions in stages.items():
        medians = {name: median_of(args.runs, action)[0] for name, action in actions.items()}
        print(f"{stage:56s} {medians['solution']:9.2f} {medians['solution'] / execution:6.2f}x "
              f"{medians['release']:9.2f} {medians['release'] / execution:6.2f}x", flush=True)
    solution = submissions["solution"]
    cpu = statistics.median(children_cpu(lambda: grade_notebook(solution)) for _ in range(args.runs))
    print(f"{'CPU of the checks pytest process, solution (no probes)':56s} {cpu:9.2f} CPU-s", flush=True)
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
