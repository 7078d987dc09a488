"""Harness of the hidden checks: runs probes in the sandbox and writes a plain-words report.

    python -m pytest autograder/checks --submission CODE.json --report REPORT.json

Each check file `test_<grade id>.py` grades the notebook cell with that grade id. A check's
docstring says in plain words what it verifies; its assertion message says what was wrong.
A check marked `@pytest.mark.prerequisite` is worth nothing by itself, and the cell earns
nothing while it fails: partial credit is for code that tries, not for a constant that happens
to match one published value (run_checks.CellGrade.score).
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from autograder.sandbox import probe_source
from autograder.sandbox.limits import ProbeLimits
from autograder.sandbox.processes import remove_tree
from autograder.sandbox.runner import ProbeServer

if TYPE_CHECKING:
    import torch

PROBES = probe_source()


def pytest_configure(config):
    config.addinivalue_line("markers", "prerequisite: the cell earns no points unless this check passes")


def pytest_addoption(parser):
    parser.addoption("--submission", help="the student's code, as extracted from the notebook")
    parser.addoption("--report", help="where to write the JSON report of every check")
    parser.addoption("--unconfined", action="store_true",
                     help="run probes without the sandbox (only when the grader chose --unconfined)")
    parser.addoption("--exit-when-reported", action="store_true",
                     help="end the process as soon as the report is written (grading's runs, run_checks.py)")
    parser.addoption("--ready-file", help="a file to create once the probe server has done its imports (and the "
                                          "checks are collected): grading starts the notebook's kernel then")


@pytest.fixture(scope="session")
def submission(request) -> dict:
    """What autograder/grading/extract.py wrote (StudentCode.write), or a plain .py file taken as one statement."""
    path = request.config.getoption("--submission")
    if not path:
        pytest.exit("the hidden checks need --submission CODE.json (or CODE.py)", returncode=2)
    if path.endswith(".py"):
        return {"statements": [["submission.py", 1, Path(path).read_text()]], "binds": [[]], "left_out": {},
                "unparsable": {}, "unparsable_names": {}, "printed_best_beta": None}
    return json.loads(Path(path).read_text())


@pytest.fixture(scope="session")
def student_code(submission) -> list:
    return [tuple(statement) for statement in submission["statements"]]


def explain(outcome, submission: dict) -> str:
    """The probe's message, and why a name the call needed was not there when the grader loaded the code."""
    statements, binds = submission["statements"], submission["binds"]
    failed = {index: error for index, error in outcome.load_failures if 0 <= index < len(statements)}
    name = outcome.missing_name
    left_out = submission["left_out"].get(name) if name else None
    if left_out:
        return (f"{outcome.message}. {name} is defined by a statement the autograder skips ({left_out['cell']}, line "
                f"{left_out['line']}: {left_out['reason']}): define it inside the function that uses it, pass it as "
                f"an argument, or define it in a cell of its own that neither trains nor plots")
    defining = [index for index in failed if name and name in binds[index]]
    if defining:
        label, line, _ = statements[defining[-1]]
        return (f"{outcome.message}. The statement that defines {name} ({label}, line {line}) failed when the grader "
                f"loaded your code: {failed[defining[-1]]}")
    unparsable = [label for label, words in submission.get("unparsable_names", {}).items() if name in words]
    if name and unparsable:
        label = unparsable[0]
        return (f"{outcome.message}. {label} mentions {name} but is not valid Python ({submission['unparsable'][label]}), "
                f"so nothing in it could be loaded")
    if failed:
        index = min(failed)
        label, line, _ = statements[index]
        return (f"{outcome.message} (and {len(failed)} statement{'s' if len(failed) > 1 else ''} of your code failed "
                f"when loaded; the first: {label}, line {line}: {failed[index]})")
    return outcome.message


@pytest.fixture(scope="session")
def confined(request) -> bool:
    return not request.config.getoption("--unconfined")


def _server_limits(confined: bool) -> ProbeLimits:
    return ProbeLimits(threads=1, confined=confined)


_STARTED: list[ProbeServer] = []   # the session's probe server, started before the checks are collected


def pytest_sessionstart(session):
    """Start the probe server now: its imports (seconds) then overlap the collection of the checks."""
    factory = getattr(session.config, "_tmp_path_factory", None)   # pytest's own, behind the tmp_path_factory fixture
    distributing = session.config.pluginmanager.has_plugin("dsession")   # an xdist controller runs no check
    if session.config.getoption("--submission") and factory is not None and not distributing:
        server = ProbeServer(_server_limits(confined=not session.config.getoption("--unconfined")))
        server.start(factory.getbasetemp().resolve())   # where run_probe makes each probe's scratch folder
        _STARTED.append(server)


def pytest_collection_finish(session):
    """Warm up the meta device (architecture.warm_up, about a second) while the first probe waits for the server.

    Only when the probe server was started at the session's start (a grading's run) and a
    collected check rebuilds networks (it imported the architecture module). The main thread
    sends that probe and waits for it; a rebuild that comes first waits for the imports. Not a
    daemon: an interpreter that ends while a daemon thread is inside torch aborts (exit code 134),
    which would hide why pytest ended.
    """
    architecture = sys.modules.get("autograder.grading.architecture")
    if _STARTED and architecture is not None and session.items:
        threading.Thread(target=architecture.warm_up, name="warm-up-meta").start()
    _say_ready(session)


def _say_ready(session) -> None:
    """Create --ready-file once the probe server has imported torch (at most a minute): grading holds the
    notebook's kernel back until then (run_checks.RunningChecks.wait_for_probe_server). At once when no
    check will run (no server, nothing collected, or a collection error pytest is about to report)."""
    path = session.config.getoption("--ready-file")
    if not path:
        return
    if _STARTED and session.items and not session.testsfailed:
        _STARTED[-1].wait_ready(timeout=60)
    Path(path).touch()


@pytest.fixture(scope="session")
def probe_server(confined):
    """One sandboxed Python with torch imported, forking a fresh child per probe."""
    with (_STARTED.pop() if _STARTED else ProbeServer(_server_limits(confined))) as server:
        yield server


@pytest.fixture(scope="session")
def run_probe(student_code, submission, probe_server, confined, tmp_path_factory):
    """run_probe(entry, inputs, seconds) -> the probe's data, or the check fails in plain words.

    One torch thread per probe: the checks run beside the notebook's kernel on a 2-core machine.
    """
    def call(entry: str, inputs: dict, seconds: float = 30) -> dict:
        scratch = Path(tempfile.mkdtemp(prefix=f"{entry}-", dir=tmp_path_factory.getbasetemp()))
        limits = ProbeLimits(seconds=seconds, threads=1, confined=confined)
        try:
            outcome = probe_server.run(student_code, PROBES, entry, inputs, scratch, limits)
        finally:   # the outcome holds the tail of its output: a notebook's prints must not add up probe after probe
            remove_tree(scratch)
        if not outcome.ok:
            pytest.fail(explain(outcome, submission), pytrace=False)
        return outcome.data
    return call


@pytest.fixture(scope="session")
def mnist() -> dict[str, torch.Tensor]:
    from autograder.grading.data import DataUnavailable, grading_subset
    try:
        return grading_subset()
    except DataUnavailable as e:   # the grader's files, not the student's code: score nothing
        pytest.exit(str(e), returncode=pytest.ExitCode.INTERNAL_ERROR)


# --- the report -----------------------------------------------------------------------------
# Checks may run in several pytest-xdist workers: each report carries its plain-words fields in
# user_properties, and the controller (or the only process) collects and writes them.

_results: list[dict] = []


def _message(report) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash else str(report.longrepr)
    first = text.split("\nassert ")[0].strip()
    for prefix in ("AssertionError: ", "Failed: "):
        if first.startswith(prefix):
            first = first[len(prefix):]
    return first if first and first != "AssertionError" else "this check failed"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.user_properties.append(("grade_id", Path(str(item.fspath)).stem.removeprefix("test_")))
    doc = (item.function.__doc__ or item.name).strip().splitlines()[0]
    if hasattr(item, "callspec"):   # a parametrised check: say which case
        doc += f" [{item.callspec.id}]"
    report.user_properties.append(("doc", doc))
    report.user_properties.append(("prerequisite", item.get_closest_marker("prerequisite") is not None))


def pytest_runtest_logreport(report):
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        fields = dict(report.user_properties)
        _results.append({"grade_id": fields["grade_id"], "check": report.nodeid.split("::")[-1], "doc": fields["doc"],
                         "prerequisite": fields["prerequisite"], "passed": report.outcome == "passed",
                         "message": "" if report.outcome == "passed" else _message(report)})


_EXIT_STATUS: list[int] = []


def pytest_sessionfinish(session, exitstatus):
    while _STARTED:   # started, but no check asked for it
        _STARTED.pop().close()
    path = session.config.getoption("--report")
    if path and not hasattr(session.config, "workerinput"):
        Path(path).write_text(json.dumps(sorted(_results, key=lambda r: (r["grade_id"], r["check"])), indent=1))
        if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):   # else pytest has an error to print
            _EXIT_STATUS.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """With --exit-when-reported: the checks ran, the report is written and pytest has said all it had to, so end
    the process here.

    The interpreter's own teardown (torch's, mostly) takes about a second, and the student's grade
    waits for this process to end (run_checks reads the report then).
    """
    if _EXIT_STATUS and config.getoption("--exit-when-reported") and not config.pluginmanager.has_plugin("dsession"):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT_STATUS[0])
