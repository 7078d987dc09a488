"""Grade a whole class from a folder of downloads, in one command.

    collect (autograder/intake/collect.py) -> check and repair (repair.py) -> grade each student in a
    scratch course with the kernel confined (grade_student.py), several at once -> merge each
    student's scores into the course's gradebook, one writer -> a report per student.

One student's failure (a broken file, a dead kernel, an endless loop, a crash of nbgrader)
costs only that student, with a reason in plain words; a grading that failed or timed out with
other students graded beside it is tried again, alone, at the end of the run (RETRIED). Running
it again regrades only students whose notebook, or the grader itself, changed (`force=True`
regrades everyone).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import MissingEntry
from sqlalchemy.exc import SAWarning
from tqdm.auto import tqdm

from assignment import notebooks
from assignment.paths import ASSIGNMENT, RELEASE_NOTEBOOK

from autograder.intake import collect as collecting
from autograder.workflow import grade_student
from autograder.course import NOTEBOOK, Course, prepare
from autograder.intake.repair import check
from autograder.grading import data
from autograder.grading.run_checks import UNCONFINED_NOTE, autograded_points
from autograder.grading.version import grader_version
from autograder.sandbox import policy
from autograder.sandbox.limits import GradingLimits
from autograder.sandbox.processes import remove_tree

log = logging.getLogger(__name__)
KEPT_LOG_BYTES = 4 * 2**20   # of each student's nbgrader log (its end)
# What the students graded beside one can cause (their load slows it past its time limit, their memory gets
# one of its processes killed), as well as its own notebook: such a grading is tried again once, alone, at the
# end of the run, and the second attempt is the one recorded.
RETRIED = ("failed", "timed out")
# Retries are serial and each may take the whole time limit: a class of notebooks that always time out
# must not multiply the run's length. Beyond this many in one run, a first attempt is the one recorded.
RETRIES_PER_RUN = 5


@dataclass
class StudentReport:
    """Everything grading said about one student: what the class table, TAs and students see."""
    student: str
    origin: str                                  # the download it came from
    status: str                                  # graded | not gradable | failed | timed out | machine error
    reason: str = ""
    scores: dict[str, float] = field(default_factory=dict)
    max_scores: dict[str, float] = field(default_factory=dict)
    repairs: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    sha256: str = ""
    grader: str = ""                             # the grader's version and the run's limits (run_key)
    log: str = ""                                # nbgrader's log of this grading (Course.log)

    @property
    def total(self) -> float:
        return round(sum(self.scores.values()), 2)


@dataclass
class ClassReport:
    students: dict[str, StudentReport] = field(default_factory=dict)
    regraded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    superseded: list[tuple[str, str]] = field(default_factory=list)
    unused_roster_rows: list[str] = field(default_factory=list)
    machine_errors: list[str] = field(default_factory=list)   # not graded this run, because of the machine
    confined: bool = True                        # False only with the grader's explicit --unconfined
    seconds: float = 0.0


def run_key(limits: GradingLimits) -> str:
    """What must be the same for an earlier grading to stand: the grader's version and the run's limits.

    A notebook graded under other time limits, or without the sandbox, is graded again; results graded
    unconfined are never kept (the student's code could have forged them).
    """
    confinement = "unconfined" if limits.unconfined else "confined"
    return f"{grader_version()} {limits.seconds:g}s {limits.cell_seconds:g}s-a-cell {confinement}"


def load_report(course: Course, student: str) -> StudentReport | None:
    path = course.report(student)
    if not path.exists():
        return None
    return StudentReport(**json.loads(path.read_text()))


def _save_report(course: Course, report: StudentReport) -> None:
    path = course.report(report.student)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(report), indent=1))


def merge_into_gradebook(course: Course, student: str, scratch: Course, replaced: bool) -> None:
    """Copy one student's autograded results from a scratch gradebook into the course's.

    `replaced`: the notebook changed since the last grading, so manual scores given to the old
    answers are cleared; an unchanged notebook regraded (a new grader) keeps them.
    """
    with scratch.gradebook() as source, course.gradebook() as target, \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)   # nbgrader's add_submission autoflushes noisily
        graded = source.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student)
        target.update_or_create_student(student)
        try:
            target.find_submission(ASSIGNMENT, student)
        except MissingEntry:
            target.add_submission(ASSIGNMENT, student)
        for grade in graded.grades:
            mine = target.find_grade(grade.name, NOTEBOOK, ASSIGNMENT, student)
            mine.auto_score = grade.auto_score
            if replaced or mine.manual_score is None:
                mine.manual_score = None
                mine.needs_manual_grade = grade.needs_manual_grade
        for comment in graded.comments:
            target.find_comment(comment.name, NOTEBOOK, ASSIGNMENT, student).auto_comment = comment.auto_comment
        target.db.commit()


def _record_ungradable(course: Course, student: str) -> None:
    """The student appears in the gradebook (and the export) even when nothing could be graded."""
    with course.gradebook() as gradebook:
        gradebook.update_or_create_student(student)


class _Manifest:
    """What was graded, from which notebook, by which grader: makes regrading idempotent."""

    def __init__(self, course: Course):
        self.path = course.manifest
        self.entries: dict[str, dict] = json.loads(self.path.read_text()) if self.path.exists() else {}

    def unchanged(self, student: str, sha: str, version: str) -> bool:
        entry = self.entries.get(student)
        return bool(entry) and entry["sha256"] == sha and entry["grader"] == version

    def record(self, report: StudentReport) -> None:
        self.entries[report.student] = {"sha256": report.sha256, "grader": report.grader, "status": report.status}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.entries, indent=1, sort_keys=True))


def grade_class(downloads: Path, course: Course = Course(), roster: Path | None = None, **options) -> ClassReport:
    """Collect, check, grade and record every student in `downloads` (see module doc and grade_collection)."""
    return grade_collection(collecting.collect(downloads, roster), course, **options)


def grade_collection(collection: collecting.Collection, course: Course = Course(), workers: int | None = None,
                     force: bool = False, limits: GradingLimits = GradingLimits(),
                     only: set[str] | None = None, progress: bool = True) -> ClassReport:
    """Check, grade and record every collected student; `only` limits it to some, `force` regrades the unchanged.

    Students' code sees nothing of the course, the downloads or this repository (sandbox/policy.py).
    Raises policy.SandboxUnavailable, saying why and how to fix it, before grading anyone if the
    sandbox cannot start here, unless `limits.unconfined`; and data.DataUnavailable if the hidden
    checks' MNIST cannot be read (every check would fail, for every student).
    """
    if not limits.unconfined:
        policy.check()
    data.check()
    started = time.perf_counter()
    prepare(course)
    release = notebooks.read(RELEASE_NOTEBOOK)
    max_points = autograded_points(release)
    result = ClassReport(rejected=collection.rejected, superseded=collection.superseded,
                         unused_roster_rows=collection.unused_roster_rows, confined=not limits.unconfined)
    manifest = _Manifest(course)
    version = run_key(limits)

    to_grade = []
    for student, download in sorted(collection.submissions.items()):
        if only and student not in only:
            continue
        sha = hashlib.sha256(download.data).hexdigest()
        previous = load_report(course, student)
        if not force and not limits.unconfined and previous is not None and manifest.unchanged(student, sha, version):
            result.students[student] = previous
            result.unchanged.append(student)
            continue
        report = StudentReport(student, download.origin, "graded", sha256=sha, grader=version, max_scores=max_points)
        checked = check(download.data, release)
        report.repairs, report.flags = checked.repairs, checked.flags
        if checked.notebook is None:
            report.status, report.reason = "not gradable", checked.fatal
            _keep_original(course, student, download)
            _clear_previous(course, student)
            _record_ungradable(course, student)
            _finish(course, manifest, report, result)
            continue
        replaced = previous is None or previous.sha256 != sha
        to_grade.append((report, download, checked.notebook, replaced))

    if to_grade:
        _grade_all(course, to_grade, workers, limits, progress, result, manifest)
    result.seconds = time.perf_counter() - started
    return result


def _grade_all(course, to_grade, workers, limits, progress, result, manifest) -> None:
    lock = threading.Lock()
    # One student per core: a grading's kernel and its hidden checks each use one thread, so one student
    # alone leaves a core idle part of the time; on 2 cores two students at once cost about 0.6x per student
    # what one alone costs (vae-course benchmark-class).
    workers = workers or os.cpu_count() or 1
    work = Path(tempfile.mkdtemp(prefix="vae-class-"))
    try:
        template = grade_student.make_template_gradebook(work)

        retry_later = []

        def one(item, first_attempt: grade_student.Graded | None = None):
            report, _, notebook, _ = item
            graded = grade_student.grade(report.student, notebook, template, work, limits)
            try:
                return settle(item, graded, first_attempt)
            finally:   # probes and kernels wrote in its scratch course; outside the lock, which every student waits for
                if graded.scratch is not None:
                    remove_tree(graded.scratch)

        def settle(item, graded: grade_student.Graded, first_attempt: grade_student.Graded | None):
            """Retry `graded` later, or record it (the machine's error, or the notebook's result)."""
            report, download, notebook, replaced = item
            if graded.status in RETRIED and first_attempt is None and min(workers, len(to_grade)) > 1:
                with lock:
                    retried = len(retry_later) < RETRIES_PER_RUN
                    if retried:
                        retry_later.append((item, graded))
                if retried:
                    log.info("%s: %s with other students graded beside it; it is graded again, alone, at the end",
                             report.student, graded.status)
                    return report
                graded.notes.append(f"Not graded again alone: this run had already retried {RETRIES_PER_RUN} "
                                    f"gradings; grade again with --student {report.student} --force.")
            if graded.status == grade_student.MACHINE_ERROR:
                # Nothing of theirs changes, not even the stored copies of what they sent: their report, scores
                # and autograded notebook stay those of the notebook graded before. No manifest entry, so the next run
                # grades them.
                with lock:
                    report.status, report.reason = graded.status, graded.reason
                    log.warning("%s: not graded (this machine, not the notebook): %s", report.student, report.reason)
                    result.students[report.student] = report
                    result.machine_errors.append(report.student)
                return report
            with lock:   # one writer to the gradebook and the course's folders
                _keep_original(course, report.student, download)
                _keep_submitted(course, report.student, notebook)
                report.seconds = round(graded.seconds, 1)
                report.notes, report.flags = graded.notes, report.flags + graded.flags
                if first_attempt is not None:
                    report.notes.append(f"Graded twice: the first attempt, with other students graded beside it, "
                                        f"{first_attempt.status} ({first_attempt.reason}); this is the second, "
                                        f"alone, and the one recorded.")
                if limits.unconfined:
                    report.notes.append(UNCONFINED_NOTE)
                report.log = str(_keep_log(course, report.student, graded.log))
                if graded.status == "graded":
                    merge_into_gradebook(course, report.student, graded.course, replaced)
                    _copy_autograded(course, report.student, graded.course)
                    report.scores = graded.scores
                else:
                    report.status, report.reason = graded.status, graded.reason
                    report.reason += f" (nbgrader's log: {report.log})"
                    _clear_previous(course, report.student)
                    _record_ungradable(course, report.student)
                _finish(course, manifest, report, result)
            return report

        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(one, item) for item in to_grade]
            for future in tqdm(as_completed(futures), total=len(futures), desc="grading", unit="student",
                               disable=not progress):
                future.result()
        for item, first_attempt in tqdm(retry_later, desc="grading again, alone", unit="student",
                                        disable=not progress or not retry_later):
            one(item, first_attempt)
    finally:
        remove_tree(work)


def _finish(course: Course, manifest: _Manifest, report: StudentReport, result: ClassReport) -> None:
    if report.status == "graded":
        log.info("%s: graded, %g of %g points in %.0f s", report.student, report.total, sum(report.max_scores.values()),
                 report.seconds)
    else:
        log.warning("%s: %s: %s", report.student, report.status, report.reason)
    _save_report(course, report)
    manifest.record(report)
    result.students[report.student] = report
    result.regraded.append(report.student)


def _keep_original(course: Course, student: str, download: collecting.Download) -> None:
    """A byte-identical copy of what the student sent, beside our records (the download itself is never touched)."""
    folder = course.originals(student)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / download.path.name).write_bytes(download.data)


def _keep_submitted(course: Course, student: str, notebook) -> None:
    """The checked (and repaired) notebook, where nbgrader's course keeps submissions (the TA pages read it)."""
    target = course.submitted(student)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(target))


def _copy_autograded(course: Course, student: str, scratch: Course) -> None:
    """Only the autograded notebook and its grading record come back from the scratch course: nothing the
    kernel wrote (it could not see the scratch course at all)."""
    target = course.autograded(student)
    shutil.rmtree(target.parent, ignore_errors=True)
    target.parent.mkdir(parents=True)
    shutil.copyfile(scratch.autograded(student), target)
    shutil.copyfile(scratch.record(student), course.record(student))


def _keep_log(course: Course, student: str, nbgrader_log: Path | None) -> Path:
    """nbgrader's log of the student's grading, kept for staff (Course.log), whatever its outcome."""
    kept = course.log(student)
    kept.parent.mkdir(parents=True, exist_ok=True)
    if nbgrader_log is not None and nbgrader_log.exists():   # its end, where nbgrader says what went wrong
        size = nbgrader_log.stat().st_size
        tail = grade_student.log_tail(nbgrader_log, KEPT_LOG_BYTES)
        cut = f"[the first {size - len(tail)} bytes of this log were dropped]\n".encode() if size > len(tail) else b""
        kept.write_bytes(cut + tail)
    else:
        kept.write_text("nbgrader wrote no log for this grading\n")
    return kept


def _clear_previous(course: Course, student: str) -> None:
    """A regrade that fails must not leave the previous notebook's results looking current."""
    shutil.rmtree(course.autograded(student).parent, ignore_errors=True)
    shutil.rmtree(course.feedback(student).parent, ignore_errors=True)
    with course.gradebook() as gradebook:
        try:
            gradebook.remove_submission(ASSIGNMENT, student)
        except MissingEntry:
            pass
