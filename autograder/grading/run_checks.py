"""Grade one notebook with the hidden checks: extract the code, run pytest, score each check cell (scores.py).

Points come from the trusted release, never from the submission's metadata.
"""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from nbformat import NotebookNode

from assignment import notebooks
from assignment.environment import course_env
from assignment.paths import RELEASE_NOTEBOOK, REPO_ROOT

from autograder.grading.extract import StudentCode, student_code
from autograder.grading.scores import CellGrade, CheckResult, one_line
from autograder.sandbox.limits import limit_grading_memory
from autograder.sandbox.processes import remove_tree
from autograder.sandbox.runner import PROBES_PARENT

CHECKS_DIR = Path(__file__).resolve().parent.parent / "checks"   # autograder/checks
WHOLE_RUN_SECONDS = 900   # a safety net: each probe has its own, much smaller, limit
UNCONFINED_NOTE = "graded WITHOUT the sandbox (--unconfined): the submission's code could have changed this result"
WORKERS = 1   # pytest-xdist workers: one, beside the kernel (2 cores); two gained 2 s alone and lost them beside it
# What every check cell of a notebook whose code is the release's own gets, without running anything:
# the release's stubs raise NotImplementedError, so each of its checks fails (tests/test_autograde.py
# runs them all on the release to show it).
NOTHING_WRITTEN = CheckResult(
    "code_written", "There is code of yours to check: the solution cells no longer raise NotImplementedError.", False,
    "Nothing was run: the cells the grader reads (the solution cells, and code cells you added) hold only the "
    "release's stubs. Fill in the cells marked # YOUR CODE HERE, run the check cells, then Runtime > Restart and run "
    "all before you download.")


def autograded_points(release: NotebookNode) -> dict[str, float]:
    return {notebooks.nbgrader_meta(c)["grade_id"]: float(notebooks.nbgrader_meta(c)["points"])
            for c in release.cells if notebooks.is_autograded_test(c)}


def checks_pytest() -> list[str]:
    """pytest as the hidden checks run: their own configuration (checks/pytest.ini), nothing from above their
    folder, no plugin but xdist when there are several workers (with checks_env)."""
    workers = ["-p", "xdist", "-n", str(WORKERS), "--dist", "loadfile"] if WORKERS > 1 else []
    # pytest's unraisable- and thread-exception plugins only warn, and the first runs two full garbage
    # collections as pytest ends: a third of a second of every grading, for warnings the report never shows.
    quiet = ["-p", "no:unraisableexception", "-p", "no:threadexception"]
    return [sys.executable, "-m", "pytest", "-c", str(CHECKS_DIR / "pytest.ini"), f"--confcutdir={CHECKS_DIR}",
            f"--rootdir={CHECKS_DIR}", "-q", "-p", "no:cacheprovider", *quiet, *workers]


def checks_env() -> dict[str, str]:
    return {**course_env(), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run_hidden_checks(code: StudentCode, workdir: Path, grade_ids: set[str] | None = None,
                      unconfined: bool = False) -> list[dict]:
    """Run every check file (or those of `grade_ids`) on `code`; return the raw per-check records of the report.

    The probes run confined (sandbox/policy.py) unless the grader chose `unconfined`. The checks
    create `probe_server_ready(workdir)` once their probe server has done its imports.
    """
    code.write(workdir / "submission.json")
    report = workdir / "report.json"
    files = [str(CHECKS_DIR / f"test_{gid}.py") for gid in sorted(grade_ids)] if grade_ids else [str(CHECKS_DIR)]
    command = [*checks_pytest(), *files, f"--basetemp={probes_folder(workdir)}",
               f"--submission={workdir / 'submission.json'}", f"--report={report}", "--exit-when-reported",
               f"--ready-file={probe_server_ready(workdir)}", *(["--unconfined"] if unconfined else [])]
    result = subprocess.run(command, cwd=REPO_ROOT, env=checks_env(), capture_output=True, text=True,
                            timeout=WHOLE_RUN_SECONDS, preexec_fn=limit_grading_memory)
    # 0: every check passed, 1: some failed. Anything else is the grader's fault (a check file that does not
    # import, an unknown file), never the submission's: its code runs only in the sandbox, not in this pytest.
    if result.returncode not in (0, 1) or not report.exists():
        raise RuntimeError(f"the hidden checks did not run (pytest's exit code {result.returncode}; a check file "
                           f"that fails to import gives 2, an unknown one 4):\n{result.stdout[-2000:]}\n"
                           f"{result.stderr[-2000:]}")
    return json.loads(report.read_text())


def probe_server_ready(workdir: Path) -> Path:
    """The file the checks create in their grading folder once the probe server has imported torch (conftest).

    Outside the probes' folder (probes_folder, the only one the sandbox may write in), and what
    it says is only when to start the kernel, never a result.
    """
    return workdir / "probe-server-ready"


def probes_folder(workdir: Path) -> Path:
    """Where the checks graded in `workdir` make their probes' scratch folders, the only folder the sandbox may write in.

    In PROBES_PARENT when it is set (the class command sets it to a capped memory file system of this
    grading's alone): what the probes write then never shares a file system with the checks' own
    files (their report), nor with the machine's disk. Otherwise workdir/probes.
    """
    parent = os.environ.get(PROBES_PARENT)
    return Path(parent) / workdir.name if parent else workdir / "probes"


@dataclasses.dataclass
class RunningChecks:
    """The hidden checks of one notebook, running in the background (start_grading)."""
    future: Future              # -> the grades by grade id
    workdir: Path | None = None  # the checks' grading folder; None when nothing runs

    def result(self) -> dict[str, CellGrade]:
        return self.future.result()

    def done(self) -> bool:
        return self.future.done()

    def wait_for_probe_server(self, timeout: float) -> bool:
        """Wait until the checks' probe server has done its imports (True), or the checks have ended or
        `timeout` seconds have passed (False).

        The probes are what a grade waits for, and the notebook's kernel, started beside them,
        imports torch as well: started after the server's imports, it no longer slows them down.
        """
        deadline = time.monotonic() + timeout
        while self.workdir is not None:
            if probe_server_ready(self.workdir).exists():
                return True
            if self.future.done() or time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return False


def grade_notebook(submission: NotebookNode, release: NotebookNode | None = None,
                   grade_ids: set[str] | None = None, unconfined: bool = False) -> dict[str, CellGrade]:
    """Scores and reports of every autograded cell (or of those in `grade_ids`), keyed by grade id."""
    return start_grading(submission, release, grade_ids, unconfined).result()


def start_grading(submission: NotebookNode, release: NotebookNode | None = None,
                  grade_ids: set[str] | None = None, unconfined: bool = False) -> RunningChecks:
    """grade_notebook in the background: the code is extracted now, the checks run while the caller goes on.

    The hidden checks need only the submission's code, not its executed outputs, so nbgrader's
    kernel can execute the notebook meanwhile (nbgrader_plugin.StartHiddenChecks). When that code
    is exactly the release's (a student who handed in the stubs), nothing runs: every check
    cell gets NOTHING_WRITTEN at once.
    """
    release = release if release is not None else notebooks.read(RELEASE_NOTEBOOK)
    grades = {gid: CellGrade(gid, points) for gid, points in autograded_points(release).items()
              if not grade_ids or gid in grade_ids}
    extracted = student_code(submission, release)
    notes = [f"the solution cell {gid} is missing from the notebook" for gid in extracted.missing_cells]
    notes += [f"{label} does not parse ({why}); nothing in it was run" for label, why in extracted.view.unparsable.items()]
    if unconfined:
        notes.append(UNCONFINED_NOTE)
    for grade in grades.values():
        grade.notes.extend(notes)
    if _is_the_release(extracted, student_code(release, release)):
        for grade in grades.values():
            grade.checks.append(dataclasses.replace(NOTHING_WRITTEN))
        nothing_to_run: Future = Future()
        nothing_to_run.set_result(grades)
        return RunningChecks(nothing_to_run)
    scratch = Path(tempfile.mkdtemp(prefix="vae-grading-"))
    background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hidden-checks")
    try:
        future = background.submit(_score, extracted, grades, grade_ids, unconfined, scratch)
    except BaseException:   # no thread, so no _score to remove the folder
        remove_tree(scratch)
        raise
    background.shutdown(wait=False)   # the thread ends when the checks do
    return RunningChecks(future, scratch)


def _is_the_release(extracted: StudentCode, release: StudentCode) -> bool:
    """Whether the checks would see exactly the release's code: what runs, and what is left out and why.

    A student whose own code is all left out (it trains, say) is not 'nothing written': the checks
    then run as for anyone else.
    """
    return (extracted.statements == release.statements and extracted.view.left_out == release.view.left_out
            and not extracted.view.unparsable and not extracted.missing_cells
            and extracted.printed_best_beta == release.printed_best_beta)


def _score(extracted: StudentCode, grades: dict[str, CellGrade], grade_ids: set[str] | None,
           unconfined: bool, scratch: Path) -> dict[str, CellGrade]:
    try:
        for record in run_hidden_checks(extracted, scratch, grade_ids, unconfined):
            grade = grades.get(record["grade_id"])
            if grade is not None:   # one line each: a message cannot pass for another line of the report
                grade.checks.append(CheckResult(record["check"], record["doc"], record["passed"],
                                                one_line(record["message"]), record.get("prerequisite", False)))
    finally:
        remove_tree(scratch)
        remove_tree(probes_folder(scratch))   # the probes wrote in it
    return grades
