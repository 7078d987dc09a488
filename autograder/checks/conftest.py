"""Harness of the hidden checks: runs probes in the sandbox and writes a plain-words report.

    python -m pytest autograder/checks --submission CODE.py --report REPORT.json

Each check file `test_<grade id>.py` grades the notebook cell with that grade id. A check's
docstring says in plain words what it verifies; its assertion message says what was wrong.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import torch

from assignment.paths import REPO_ROOT, mnist_root
from autograder.sandbox import Limits, run

PROBES = (Path(__file__).parent.parent / "probes.py").read_text()
# What a submission must not see while it runs (the sandbox hides them where the kernel allows).
HIDDEN = tuple(REPO_ROOT / name for name in ("solutions", "autograder", "tests", "submitted", "autograded",
                                              "feedback", "gradebook.db", ".git"))


def pytest_addoption(parser):
    parser.addoption("--submission", help="the student's code, as extracted from the notebook")
    parser.addoption("--report", help="where to write the JSON report of every check")


@pytest.fixture(scope="session")
def student_code(request) -> str:
    path = request.config.getoption("--submission")
    if not path:
        pytest.exit("the hidden checks need --submission CODE.py", returncode=2)
    return Path(path).read_text()


@pytest.fixture(scope="session")
def run_probe(student_code, tmp_path_factory):
    """run_probe(entry, inputs, seconds, threads) -> the probe's data, or the check fails in plain words."""
    def call(entry: str, inputs: dict, seconds: float = 30, threads: int = 1) -> dict:
        scratch = Path(tempfile.mkdtemp(prefix=f"{entry}-", dir=tmp_path_factory.getbasetemp()))
        outcome = run(student_code, PROBES, entry, inputs, scratch, Limits(seconds=seconds, threads=threads, hidden=HIDDEN))
        if not outcome.ok:
            pytest.fail(outcome.message, pytrace=False)
        return outcome.data
    return call


@pytest.fixture(scope="session")
def mnist() -> dict[str, torch.Tensor]:
    """A fixed subset of MNIST: 2,048 training images and 256 held-out test images in [0, 1]."""
    from torchvision import datasets
    train = datasets.MNIST(str(mnist_root()), train=True, download=True)
    test = datasets.MNIST(str(mnist_root()), train=False, download=True)
    return {"train": train.data[:2048].unsqueeze(1).float() / 255.0,
            "test": test.data[:256].unsqueeze(1).float() / 255.0}


# --- the report -----------------------------------------------------------------------------

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
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _results.append({
            "grade_id": Path(str(item.fspath)).stem.removeprefix("test_"),
            "check": item.name,
            "doc": (item.function.__doc__ or item.name).strip().splitlines()[0],
            "passed": report.outcome == "passed",
            "message": "" if report.outcome == "passed" else _message(report),
        })


def pytest_sessionfinish(session):
    path = session.config.getoption("--report")
    if path:
        Path(path).write_text(json.dumps(_results, indent=1))
