"""Hostile and broken submissions: no undeserved points, nothing lost, the class still graded.

One hostile class is graded for the whole module, with the real command (`python -m autograder
grade --workers 2`): every attack of tests/hostile/attacks.py, every broken file, and two honest
students (every solution cell solved: 31 points; the release with 2a and the KL solved: 9 points).

The class is graded from a copy of this repository, in a course folder (downloads inside it)
under /var/tmp: outside /tmp, so that what protects them is the sandbox's allow-list, not the
fresh /tmp every sandbox gets; and never this checkout, which an attack that got
through could otherwise damage. The grader's environment holds a fake secret, and a socket listens
on the grader's loopback for connections that must never come.

A second, small class (the same partial submission three times) is graded with two workers, then
again with one: determinism.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import MissingEntry

from assignment import notebooks
from assignment.paths import RELEASE_NOTEBOOK, REPO_ROOT, mnist_root
from autograder.intake.repair import check
from autograder.course import Course
from autograder.sandbox.limits import GradingLimits
from tests.hostile import attacks as A

WORKERS, CELL_TIMEOUT, STUDENT_TIMEOUT = 2, 30, 900
HONEST, PARTIAL = "honest_full", "honest_partial"
SECRET_NAME, SECRET = "VAE_GRADER_DB_PASSWORD", "fake-secret-" + os.urandom(6).hex()
MARKER = "honest-marker-" + os.urandom(6).hex()
CANARY = "the canary of the hostile class"
ATTACKS = A.attacks()
GRADED_BROKEN = [b for b in A.BROKEN if b.graded_as_stub]
UNGRADABLE = [b for b in A.BROKEN if b.collected and not b.graded_as_stub]
NOT_COLLECTED = [b for b in A.BROKEN if not b.collected]
# What no attacker's outputs or report may ever contain.
LEAK_MARKERS = {"the grader's secret": SECRET, "the honest student's code": MARKER,
                "hidden tests": "BEGIN HIDDEN TESTS", "the instructor's solution": "BEGIN SOLUTION",
                "a stolen notebook": "STOLEN FROM", "a leaked file": "LEAKED:"}


# Helpers ---------------------------------------------------------------------------------------------

def hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under root (but Python's bytecode caches), by relative path."""
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file() and "__pycache__" not in path.parts}


def copy_repository(target: Path) -> Path:
    """This repository as the grader sees it (code, release, solutions, tests, its gradebook if any)."""
    ignore = shutil.ignore_patterns(".venv", ".git", "build", "data", "__pycache__", "submitted", "autograded",
                                    "feedback", ".pytest_cache", "*.pyc")
    shutil.copytree(REPO_ROOT, target, symlinks=True, ignore=ignore)
    return target


class Listener:
    """A server that counts the connections it gets (there must be none): TCP on the grader's loopback, or
    a UNIX socket at `path`."""

    def __init__(self, path: Path | None = None):
        self.socket = socket.socket(socket.AF_UNIX if path else socket.AF_INET)
        self.socket.bind(str(path) if path else ("127.0.0.1", 0))
        self.socket.listen()
        self.socket.settimeout(0.5)
        self.port = None if path else self.socket.getsockname()[1]
        self.connections = 0
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                connection, _ = self.socket.accept()
                self.connections += 1
                connection.close()
            except OSError:
                pass

    def close(self):
        self.running = False
        self.thread.join()
        self.socket.close()


def grade_cli(repo: Path, course: Path, downloads: Path, workers: int, *extra: str, env: dict | None = None):
    command = [sys.executable, "-m", "autograder", "--course", str(course), "grade", str(downloads),
               "--workers", str(workers), "--cell-timeout", str(CELL_TIMEOUT), "--timeout", str(STUDENT_TIMEOUT),
               "--no-feedback", *extra]
    environment = {**os.environ, "MNIST_ROOT": str(mnist_root()), **(env or {})}
    started = time.perf_counter()
    result = subprocess.run(command, cwd=repo, env=environment, capture_output=True, text=True, timeout=4 * 3600)
    return result, time.perf_counter() - started


def load_reports(course: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((course / "grading" / "reports").glob("*.json"))}


def report_text(report: dict) -> str:
    return "\n".join([report["status"], report["reason"], *report["notes"], *report["repairs"], *report["flags"]])


def outputs_text(course: Path, student: str) -> str:
    """Everything the student's kernel and the hidden checks wrote into the autograded notebook's outputs."""
    path = course / "autograded" / student / "vae" / "vae.ipynb"
    if not path.exists():
        return ""
    return json.dumps([cell.get("outputs", []) for cell in notebooks.read(path).cells])


def table_rows(stdout: str) -> list[str]:
    """The rows of the class table printed by the command (one per student)."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("student "))
    return [line for line in lines[start + 2:] if line and not line.startswith(("for a TA", "not collected",
                                                                               "not graded", "roster", "WARNING"))
            and " graded now, " not in line]


def surviving_children() -> list[str]:
    """Processes still sleeping the attacks' marked sleep."""
    alive = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and f"sleep\0{A.SLEEP_MARKER}" in (entry / "cmdline").read_text():
                alive.append(entry.name)
        except OSError:
            pass
    return alive


def differences(before: dict, after: dict) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


# The hostile class ----------------------------------------------------------------------------------------

def machine_socket_path() -> Path | None:
    """Where a socket of the machine's own would live (/run), if this user may put one there."""
    return Path("/run") / f"vae-hostile-{os.getpid()}.sock" if os.access("/run", os.W_OK) else None


@pytest.fixture(scope="module")
def hostile():
    root = Path(tempfile.mkdtemp(prefix="vae-hostile-", dir="/var/tmp"))
    listener = Listener()
    socket_path = machine_socket_path()
    machine_socket = Listener(socket_path) if socket_path else None
    token = Path.home() / f".vae-hostile-token-{os.getpid()}"
    token.write_text(SECRET)
    try:
        repo = copy_repository(root / "repo")
        course = root / "course"
        downloads = course / "downloads"
        canary = course / "canary.txt"
        downloads.mkdir(parents=True)
        canary.write_text(CANARY)
        context = A.Context(course=course, repo=repo, home=Path.home(), canary=canary, secret_name=SECRET_NAME,
                            port=listener.port, honest=HONEST, marker=MARKER)
        A.write_hostile_downloads(downloads, context, PARTIAL)
        before = {"repo": hashes(repo), "downloads": hashes(downloads), "canary": canary.read_text()}

        result, seconds = grade_cli(repo, course, downloads, WORKERS, env={SECRET_NAME: SECRET})
        time.sleep(2)   # anything an attack left behind would still be running now
        yield {"root": root, "repo": repo, "course": course, "downloads": downloads, "canary": canary,
               "result": result, "seconds": seconds, "before": before,
               "reports": load_reports(course), "connections": listener.connections,
               "socket_connections": machine_socket.connections if machine_socket else 0,
               "survivors": surviving_children()}
    finally:
        listener.close()
        if machine_socket:
            machine_socket.close()
            socket_path.unlink(missing_ok=True)
        token.unlink(missing_ok=True)
        shutil.rmtree(root, ignore_errors=True)


def test_the_class_run_finishes_and_every_submission_is_accounted_for(hostile):
    result, reports = hostile["result"], hostile["reports"]
    print(f"\nhostile class: {len(reports)} students, {WORKERS} workers, {hostile['seconds']:.0f} s\n" + result.stdout)
    assert result.returncode == 0, f"The grading command failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    expected = {HONEST, PARTIAL, *(a.name for a in ATTACKS), *(A.student_of_broken(b) for b in GRADED_BROKEN + UNGRADABLE)}
    assert not expected - set(reports), f"No report for: {sorted(expected - set(reports))}"
    for broken in NOT_COLLECTED:
        assert f"not collected: {broken.name}: " in result.stdout, f"{broken.name} ({broken.what}) is not listed as not collected"


def test_honest_students_are_graded_exactly(hostile):
    reports = hostile["reports"]
    for student, expected in ((HONEST, A.FULL_SCORES), (PARTIAL, A.PARTIAL_SCORES)):
        report = reports[student]
        assert report["status"] == "graded", f"{student} was not graded: {report['reason']}"
        assert report["scores"] == expected, f"{student} should have {expected}, got {report['scores']}"
        assert not report["flags"], f"{student} did nothing wrong but was flagged: {report['flags']}"
    assert sum(reports[HONEST]["scores"].values()) == 31


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.name)
def test_an_attack_earns_only_what_its_honest_code_earns(hostile, attack):
    report = hostile["reports"][attack.name]
    assert report["status"] == "graded", f"{attack.name} ({attack.what}) was not graded: {report['reason']}"
    expected = attack.expected_scores()
    wrong = {g: (s, expected[g]) for g, s in report["scores"].items() if s != expected[g]}
    assert not wrong, (f"{attack.name} ({attack.what}) on a {attack.base} notebook: "
                       + "; ".join(f"{g} got {s:g} points, deserved {e:g}" for g, (s, e) in wrong.items()))


@pytest.mark.parametrize("attack", [a for a in ATTACKS if a.report or a.flags], ids=lambda a: a.name)
def test_the_report_says_what_happened_and_tampering_is_flagged(hostile, attack):
    report = hostile["reports"][attack.name]
    text = report_text(report).lower()
    for words in attack.report:
        assert words.lower() in text, f"The report of {attack.name} ({attack.what}) does not say '{words}':\n{text}"
    flags = "\n".join(report["flags"]).lower()
    for words in attack.flags:
        assert words.lower() in flags, f"{attack.name} ({attack.what}) is not flagged for a TA with '{words}':\n{flags}"


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.name)
def test_every_check_cell_shows_the_trusted_report(hostile, attack):
    path = hostile["course"] / "autograded" / attack.name / "vae" / "vae.ipynb"
    cells = notebooks.cells_by_grade_id(notebooks.read(path))
    for grade_id in A.CHECK_CELLS:
        text = "".join(o.get("text", "") for o in cells[grade_id].get("outputs", []) if o.output_type == "stream")
        assert text.startswith(f"Hidden checks of {grade_id}"), (
            f"The check cell {grade_id} of {attack.name} shows something else than the hidden checks' report: {text[:300]!r}")


@pytest.mark.parametrize("broken", GRADED_BROKEN + UNGRADABLE, ids=lambda b: b.name)
def test_a_broken_file_gets_a_reason_in_plain_words(hostile, broken):
    report = hostile["reports"][A.student_of_broken(broken)]
    if broken.graded_as_stub:
        assert report["status"] == "graded", f"{broken.name} ({broken.what}) could be read but was not graded"
        assert report["scores"] == A.ZERO_SCORES, f"{broken.name} ({broken.what}) earned {report['scores']}"
    else:
        assert report["status"] == "not gradable" and not report["scores"], (
            f"{broken.name} ({broken.what}): status {report['status']}, scores {report['scores']}")
    assert broken.reason.lower() in report_text(report).lower(), f"{broken.name} ({broken.what}): {report_text(report)}"


def test_a_zip_never_writes_outside_the_downloads(hostile):
    root = hostile["root"]
    escaped = [p for p in (root / "x_vae.ipynb", root.parent / "x_vae.ipynb", hostile["course"] / "x_vae.ipynb") if p.exists()]
    assert not escaped, f"A zip member was written outside the downloads: {escaped}"


def test_no_file_outside_the_scratch_space_changed(hostile):
    """The repository (solutions, grading code, tests, its gradebook...), every download and the canary are
    byte-identical; no file was created by an attack; no course file of another student holds an attack's mark."""
    before = hostile["before"]
    repo, downloads = hostile["repo"], hostile["downloads"]
    assert not differences(before["repo"], hashes(repo)), (
        f"Files of the repository changed: {differences(before['repo'], hashes(repo))}")
    assert not differences(before["downloads"], hashes(downloads)), (
        f"Downloads changed: {differences(before['downloads'], hashes(downloads))}")
    assert hostile["canary"].exists() and hostile["canary"].read_text() == before["canary"], "The canary file was changed"
    planted = [str(p) for p in [*hostile["root"].rglob("PWNED_*"), *Path("/var/tmp").glob("PWNED_*")]]
    assert not planted, f"Attacks created files: {planted}"
    names = [a.name for a in ATTACKS]   # an attacker's own files hold its code, the marker included
    others = [p for p in hostile["course"].rglob("*") if p.is_file() and not any(name in str(p) for name in names)]
    touched = [str(p) for p in others if A.PWNED.encode() in p.read_bytes()]
    assert not touched, f"Attacks wrote into: {touched}"


def test_every_submitted_notebook_is_what_its_student_sent(hostile):
    """Each student's submitted/ notebook is the repaired download: no other student's attack changed it."""
    course, release = hostile["course"], notebooks.read(RELEASE_NOTEBOOK)
    for student, report in hostile["reports"].items():
        if report["status"] == "not gradable":
            continue
        sent = (hostile["downloads"] / report["origin"]).read_bytes()
        expected = [(c.cell_type, c.source) for c in check(sent, release).notebook.cells]
        submitted = notebooks.read(course / "submitted" / student / "vae" / "vae.ipynb")
        assert [(c.cell_type, c.source) for c in submitted.cells] == expected, f"The submitted notebook of {student} changed"


def test_the_course_gradebook_holds_the_reported_scores(hostile):
    with Course(hostile['course']).gradebook() as gradebook:
        for student, report in hostile["reports"].items():
            if report["status"] != "graded":
                continue
            try:
                submitted = gradebook.find_submission_notebook("vae", "vae", student)
            except MissingEntry:
                pytest.fail(f"{student} is graded in the report but missing from the gradebook")
            scores = {g.name: float(g.auto_score or 0) for g in submitted.grades if g.cell_type == "code"}
            assert scores == report["scores"], f"The gradebook has {scores} for {student}, the report {report['scores']}"


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.name)
def test_nothing_secret_or_belonging_to_others_reaches_an_attackers_outputs(hostile, attack):
    text = outputs_text(hostile["course"], attack.name) + json.dumps(hostile["reports"][attack.name])
    leaked = [what for what, marker in LEAK_MARKERS.items() if marker in text]
    assert not leaked, f"{attack.name} ({attack.what}) got hold of {', '.join(leaked)}"


def test_no_attack_reached_the_network_or_the_machines_sockets(hostile):
    assert hostile["connections"] == 0, f"{hostile['connections']} connections reached the grader's loopback"
    assert hostile["socket_connections"] == 0, f"{hostile['socket_connections']} connections reached a socket in /run"


def test_nothing_an_attack_started_is_still_running(hostile):
    assert not hostile["survivors"], f"Processes started by attacks outlived their grading: {hostile['survivors']}"


def test_a_notebook_cannot_fill_the_graders_disk(hostile):
    """fill_disk writes 1 MiB files where confined code may write, until the disk is full: a grading's shared
    folders are its own memory file systems (sandbox/policy.grading_command), so it stops at their caps, and
    the students graded beside it keep their disk."""
    limits = GradingLimits()
    text = outputs_text(hostile["course"], "fill_disk")   # its cells' outputs, and the checks' reports of its probes
    caps = {"kernel": limits.sockets_folder_bytes, "probe": limits.probes_folder_bytes}
    for place in caps:
        filled = re.search(rf"FILLED {place}: (\d+) MiB \(([^)]*)\)", text)
        assert filled, f"fill_disk's {place} did not say how much it wrote: {text[:2000]}"
        assert int(filled[1]) * 2**20 <= caps[place] and filled[2] == "No space left on device", (
            f"From its {place}, fill_disk wrote {filled[1]} MiB ({filled[2]}) into the folder it shares with the "
            f"grader, past that folder's cap of {caps[place] / 2**20:g} MiB: it could fill the grader's disk")


def test_huge_outputs_are_cut_short(hostile):
    size = (hostile["course"] / "autograded" / "huge_output" / "vae" / "vae.ipynb").stat().st_size
    assert size < 5 * 2**20, f"The autograded notebook of huge_output is {size / 2**20:.0f} MiB"


# Determinism ----------------------------------------------------------------------------------------------

REPEATED = [f"same_partial_{n}" for n in (1, 2, 3)]
REPEATED_SOLVED = A.PARTIAL_SOLVED + ("p2c_train_autoencoder_solution", "p2e_sample_prior_solution")
REPEATED_SCORES = {**A.PARTIAL_SCORES, "p2c_train_autoencoder": 6.0, "p2e_sample_prior": 2.0}


@pytest.fixture(scope="module")
def repeated():
    """Three copies of one partial submission (with training), graded with two workers, then again with one."""
    root = Path(tempfile.mkdtemp(prefix="vae-repeated-", dir="/var/tmp"))
    try:
        repo, downloads, course = copy_repository(root / "repo"), root / "downloads", root / "course"
        downloads.mkdir()
        notebook = A.solved(REPEATED_SOLVED)
        for student in REPEATED:
            nbformat.write(notebook, str(downloads / f"{student}_vae.ipynb"))
        runs = {}
        for workers in (2, 1):
            result, seconds = grade_cli(repo, course, downloads, workers, "--force")
            assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
            runs[workers] = {"table": table_rows(result.stdout), "reports": load_reports(course), "seconds": seconds}
        yield runs
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_grading_the_same_submission_six_times_gives_the_same_score_for_every_part(repeated):
    scores = [run["reports"][student]["scores"] for run in repeated.values() for student in REPEATED]
    assert len(scores) == 6
    for n, got in enumerate(scores):
        assert got == REPEATED_SCORES, f"Grading number {n + 1} gave {got}, expected {REPEATED_SCORES}"


def test_one_worker_and_two_workers_print_the_same_table(repeated):
    assert repeated[1]["table"] == repeated[2]["table"], (
        "The class table differs between --workers 1 and --workers 2:\n" + "\n".join(repeated[1]["table"])
        + "\n---\n" + "\n".join(repeated[2]["table"]))


# The time limit of one student -------------------------------------------------------------------------

def test_a_student_stopped_at_the_time_limit_leaves_no_process_behind(tmp_path):
    """nbgrader, the confined kernel (which Jupyter starts in a session of its own) and its children all go,
    and so does the kernel's sockets folder in /tmp, which nbgrader, killed, could not remove."""
    from autograder.sandbox.kernel import sockets_parent
    from autograder.workflow import grade_student

    notebook = A.base_notebook("stub")
    A.own_cell_after("setup", f"import subprocess, time\nsubprocess.Popen(['sleep', '{A.SLEEP_MARKER}'])\n"
                              "time.sleep(10**6)")(notebook)
    template = grade_student.make_template_gradebook(tmp_path)
    graded = grade_student.grade("sleeper", notebook, template, tmp_path,
                                 GradingLimits(seconds=45, cell_seconds=600))
    assert graded.status == "timed out" and "did not finish within 45 s" in graded.reason, graded.reason
    time.sleep(2)
    left = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and str(graded.scratch) in (entry / "cmdline").read_text():
                left.append(entry.name)
        except OSError:
            pass
    assert not left and not surviving_children(), (
        f"Processes of the stopped student are still running: {left} {surviving_children()}")
    assert not sockets_parent(graded.scratch).exists(), (
        f"The stopped student's kernel sockets are left in {sockets_parent(graded.scratch)}")


# Plain nbgrader ------------------------------------------------------------------------------------------

def test_plain_nbgrader_autograde_confines_a_hostile_notebook_as_the_class_command_does(hostile):
    """README's 'Autograding with plain nbgrader', from the repository root: the same sandbox, the same score."""
    attack = next(a for a in ATTACKS if a.name == "unmount_then_overwrite")
    repo = copy_repository(hostile["root"] / "plain")   # the course is the repository itself, as in the README
    canary = repo / "canary.txt"
    canary.write_text(CANARY)
    context = A.Context(course=repo, repo=repo, home=Path.home(), canary=canary, secret_name=SECRET_NAME, port=0,
                        honest=HONEST, marker=MARKER)
    env = {**os.environ, "MNIST_ROOT": str(mnist_root()),
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    subprocess.run([sys.executable, "-m", "assignment", "release"], cwd=repo, env=env, check=True, capture_output=True)
    submitted = repo / "submitted" / "mallory" / "vae"
    submitted.mkdir(parents=True)
    nbformat.write(A.build_attack(attack, context), str(submitted / "vae.ipynb"))
    watched = {name: hashes(repo / name) for name in ("autograder", "solutions", "release", "tests")}

    result = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", "vae", "--create"], cwd=repo, env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    changed = {name: differences(before, hashes(repo / name)) for name, before in watched.items()}
    assert not any(changed.values()), f"Plain nbgrader let the notebook change: {changed}"
    assert canary.read_text() == CANARY and not list(repo.rglob("PWNED_*")), "Plain nbgrader let the notebook write files"
    with Course(repo).gradebook() as gradebook:
        notebook = gradebook.find_submission_notebook("vae", "vae", "mallory")
        scores = {g.name: float(g.auto_score or 0) for g in notebook.grades if g.cell_type == "code"}
    assert scores == attack.expected_scores() == hostile["reports"][attack.name]["scores"], (
        f"Plain nbgrader gave {scores}; the class command {hostile['reports'][attack.name]['scores']}")
    outputs = json.dumps([c.get("outputs", []) for c in notebooks.read(repo / "autograded" / "mallory" / "vae" / "vae.ipynb").cells])
    assert "ATTACK SUCCEEDED" not in outputs, "An escape attempt succeeded under plain nbgrader: " + outputs[
        outputs.index("ATTACK SUCCEEDED"):][:300]
