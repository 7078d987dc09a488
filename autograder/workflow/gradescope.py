"""Grade on Gradescope's infrastructure with the same trusted checks.

`build_bundle` writes the .zip an instructor uploads as the assignment's autograder: this
repository's grading code, the solutions and release (to build the gradebook), the
requirements, and Gradescope's two entry points:

- `setup.sh` installs Python, the requirements and MNIST once, when Gradescope builds the image;
- `run_autograder` runs `python3 -m autograder.workflow.gradescope` for each submission, which grades
  the notebook in /autograder/submission with the very pipeline of `vae-course grade`
  (check and repair, nbgrader autograde with the hidden checks, the kernel and the probes
  confined by bubblewrap, which setup.sh installs) and writes /autograder/results/results.json: one test per autograded part,
  whose output is the hidden checks' plain-words report.

`GRADESCOPE_ROOT` (default /autograder) lets the same run happen anywhere, e.g. in our tests.
"""
from __future__ import annotations

import json
import os
import time
import zipfile
from pathlib import Path, PurePosixPath

from assignment import notebooks
from assignment.parts import PARTS, part_of
from assignment.paths import RELEASE_NOTEBOOK, REPO_ROOT

from autograder.intake.collect import Collection, Download
from autograder.course import Course
from autograder.grading.data import DataUnavailable
from autograder.grading.record import GradingRecord
from autograder.grading.run_checks import autograded_points
from autograder.sandbox.policy import SandboxUnavailable
from autograder.workflow.grade_student import MACHINE_ERROR

STUDENT = "submission"
BUNDLED = ("assignment", "autograder", "solutions", "release", "nbgrader_config.py", "requirements.txt")
NOT_BUNDLED = ("autograder/devtools",)   # developer tools: benchmarks, calibration, the demonstration class

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder image (Ubuntu, as root).
set -euo pipefail
apt-get update && apt-get install -y python3 python3-pip python3-venv util-linux bubblewrap
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install -r /autograder/source/requirements.txt
# MNIST is downloaded now, so that grading needs no network.
/autograder/venv/bin/python -c "from torchvision import datasets; datasets.MNIST('/autograder/source/data', download=True)"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission; the student's files are in /autograder/submission.
cd "$(dirname "$0")"
export MNIST_ROOT="${MNIST_ROOT:-$PWD/data}"
exec "${PYTHON:-/autograder/venv/bin/python}" -m autograder.workflow.gradescope
"""


def build_bundle(out: Path) -> Path:
    """The autograder .zip for Gradescope (setup.sh and run_autograder at its root)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name in BUNDLED:
            path = REPO_ROOT / name
            files = [path] if path.is_file() else sorted(
                p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                and not any(p.is_relative_to(REPO_ROOT / left_out) for left_out in NOT_BUNDLED))
            for file in files:
                bundle.write(file, file.relative_to(REPO_ROOT).as_posix())
        for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = 0o100755 << 16   # executable
            bundle.writestr(info, text)
    return out


def _submitted_notebook(folder: Path) -> tuple[Download | None, str]:
    notebooks_found = sorted(folder.rglob("*.ipynb"), key=lambda p: p.stat().st_mtime)
    if not notebooks_found:
        names = ", ".join(p.name for p in folder.rglob("*") if p.is_file()) or "nothing"
        return None, f"No .ipynb file was submitted (found: {names}). Upload the notebook downloaded from Colab."
    chosen = notebooks_found[-1]
    note = "" if len(notebooks_found) == 1 else f"Several notebooks were submitted; graded the newest, {chosen.name}."
    return Download(chosen.name, PurePosixPath(STUDENT, chosen.name), chosen.read_bytes(), chosen.stat().st_mtime), note


def check_reports(course: Course, student: str = STUDENT) -> dict[str, str]:
    """grade id -> the hidden checks' report of that check cell, rendered from the grading record."""
    path = course.record(student)
    if not path.exists():
        return {}
    return {grade_id: cell.report() + "\n" for grade_id, cell in GradingRecord.read(path).cells.items()}


def results_for(report, reports: dict[str, str], note: str, seconds: float) -> dict:
    """Gradescope's results.json: one test per autograded part, scores as nbgrader recorded them."""
    titles = {part.id: part.title for part in PARTS}
    tests = []
    for number, part in enumerate(dict.fromkeys(part_of(g) for g in report.max_scores), start=1):
        ids = [g for g in report.max_scores if part_of(g) == part]
        score = round(sum(report.scores.get(g, 0.0) for g in ids), 2)
        maximum = sum(report.max_scores[g] for g in ids)
        output = "\n\n".join(reports.get(g, "") for g in ids).strip() or report.reason or "Not graded."
        tests.append({"name": f"{part[1:]} {titles.get(part, '')}", "number": str(number), "score": score,
                      "max_score": maximum, "status": "passed" if score >= maximum else "failed",
                      "output": output, "visibility": "visible"})
    lines = [note] if note else []
    if report.status == MACHINE_ERROR:
        lines.append(f"The grading machine, not your notebook, failed ({report.reason}). "
                     "Submit again; if it happens again, tell the course staff.")
    elif report.status != "graded":
        lines.append(f"Your notebook could not be graded: {report.reason}")
    lines += [f"Grading {what}: {item}" for what, items in (("repaired", report.repairs), ("noted", report.notes))
              for item in items]
    lines.append("Inline answers are graded by the course staff.")
    return {"score": round(sum(t["score"] for t in tests), 2), "execution_time": round(seconds),
            "output": "\n".join(lines), "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}


def run(root: Path) -> dict:
    """Grade /autograder/submission (under `root`) and write /autograder/results/results.json."""
    from autograder.workflow.grade_class import StudentReport, grade_collection

    started = time.perf_counter()
    download, note = _submitted_notebook(root / "submission")
    course = Course(root / "course")   # an nbgrader course of one: its gradebook is the record of the run
    if download is None:
        report = StudentReport(STUDENT, "", "not gradable", note,
                               max_scores=autograded_points(notebooks.read(RELEASE_NOTEBOOK)))
        note = ""
    else:
        try:
            result = grade_collection(Collection(submissions={STUDENT: download}), course, progress=False)
            report = result.students[STUDENT]
        except (SandboxUnavailable, DataUnavailable) as e:   # the image's fault, not the student's: say so to both
            what = "start its sandbox" if isinstance(e, SandboxUnavailable) else "read its copy of MNIST"
            report = StudentReport(STUDENT, download.origin, "failed",
                                   f"the autograder could not {what}, so nothing was graded; your "
                                   f"course staff has been told how to fix it ({e})",
                                   max_scores=autograded_points(notebooks.read(RELEASE_NOTEBOOK)))
    results = results_for(report, check_reports(course), note, time.perf_counter() - started)
    out = root / "results" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    results = run(Path(os.environ.get("GRADESCOPE_ROOT", "/autograder")))
    print(f"score {results['score']} of {sum(t['max_score'] for t in results['tests'])}")
