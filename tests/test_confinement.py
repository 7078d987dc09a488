"""The sandbox holds against a student who has read this repository: no escape from a kernel cell or a probe.

The same escape attempts run in both places untrusted code runs: a cell of the notebook's kernel
(started by ConfinedKernelManager, as nbgrader starts it) and a probe of the hidden checks (the
runner, as the checks call it). Each attempt must be refused, and the grader's files must not
exist at all for the student's code, whatever their path.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import nbformat
import pytest
import torch
from nbclient import NotebookClient

from assignment.paths import REPO_ROOT
from autograder.sandbox.kernel import ConfinedKernelManager
from autograder.sandbox.limits import ProbeLimits
from autograder.sandbox.policy import available
from autograder.sandbox.runner import ProbeServer, run

pytestmark = pytest.mark.skipif(not available(), reason="bubblewrap cannot run here (autograder/sandbox/policy.py)")

# Runs as the student's code. Every attempt reports "refused (...)" or "SUCCEEDED".
ESCAPES = r'''
import ctypes, errno, json, os
_libc = ctypes.CDLL(None, use_errno=True)
MS_RDONLY, MS_REMOUNT, MS_BIND = 1, 32, 4096
CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000


def _call(function, *args):
    if function(*args) == 0:
        return "SUCCEEDED"
    return f"refused ({errno.errorcode.get(ctypes.get_errno(), ctypes.get_errno())})"


def _python(action):
    try:
        action()
        return "SUCCEEDED"
    except OSError as e:
        return f"refused ({errno.errorcode.get(e.errno, e.errno)})"


def escape_attempts(paths):
    """Try every way out we know of; `paths` holds the grader's files to read and write."""
    mounts = [line.split()[4] for line in open("/proc/self/mountinfo")]
    out = {f"umount {m}": _call(_libc.umount2, m.encode(), 2) for m in mounts}   # MNT_DETACH
    out["mount -o remount,rw /"] = _call(_libc.mount, None, b"/", None, MS_REMOUNT, None)
    out["mount -o remount,bind,rw /usr"] = _call(_libc.mount, None, b"/usr", None, MS_REMOUNT | MS_BIND, None)
    out["a new tmpfs mount"] = _call(_libc.mount, b"tmpfs", b"/tmp", b"tmpfs", 0, None)
    out["a bind mount of /"] = _call(_libc.mount, b"/", b"/tmp", None, MS_BIND, None)
    out["unshare a user namespace"] = _call(_libc.unshare, CLONE_NEWUSER)
    out["unshare a mount namespace"] = _call(_libc.unshare, CLONE_NEWNS)
    for pid in ("1", "self"):
        try:
            namespace = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY)
        except OSError as e:
            out[f"setns into /proc/{pid}'s mount namespace"] = f"refused ({errno.errorcode.get(e.errno, e.errno)})"
        else:
            out[f"setns into /proc/{pid}'s mount namespace"] = _call(_libc.setns, namespace, 0)
    out["chroot"] = _call(_libc.chroot, b"/tmp")
    for path in paths["read"]:
        out[f"read {path}"] = _python(lambda: open(path, "rb").read(1))
        out[f"list {path}"] = _python(lambda: os.listdir(path))
    for path in paths["write"]:
        out[f"write {path}"] = _python(lambda: open(path, "a").write("# planted by the student"))
    out["open a pseudo-terminal (the machine has a few thousand)"] = _python(os.openpty)
    for path in ("/proc/kpageflags", "/proc/slabinfo", "/proc/vmallocinfo"):   # root only: the sandbox's uid may be
        try:
            with open(path, "rb") as f:
                out[f"the machine's {path} readable"] = "SUCCEEDED" if f.read(64) else "refused (empty)"
        except OSError as e:
            out[f"the machine's {path} readable"] = f"refused ({errno.errorcode.get(e.errno, e.errno)})"
    for path in ("/proc/sys/kernel/core_pattern", "/proc/sysrq-trigger"):   # only asked: never written
        out[f"may write {path}"] = "SUCCEEDED" if os.access(path, os.W_OK) else "refused"
    out["writable mounts"] = sorted({m[4] for m in (line.split() for line in open("/proc/self/mountinfo"))
                                     if "rw" in m[5].split(",") and os.path.isdir(m[4])
                                     and not m[4].startswith(("/proc", "/dev/pts"))})   # no file can be made there
    out["terminals held"] = [t for t in (os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                                        if os.path.exists(f"/proc/self/fd/{fd}")) if t.startswith(("/dev/pts", "/dev/tty"))]
    status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
    out["CapEff"], out["NoNewPrivs"], out["uid"] = status["CapEff"].strip(), status["NoNewPrivs"].strip(), os.getuid()
    out["processes visible"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    return out
'''


@pytest.fixture(scope="module")
def grader_files(tmp_path_factory):
    """This repository's secrets, a course beside them (a gradebook, other students' downloads), a token at home."""
    course = tmp_path_factory.mktemp("course")
    token = Path.home() / f".vae-confinement-token-{os.getpid()}"
    token.write_text("the grader's token")
    (course / "gradebook.db").write_text("grades")
    (course / "downloads").mkdir()
    (course / "downloads" / "other_vae.ipynb").write_text("another student's work")
    read = [REPO_ROOT / "solutions" / "vae" / "vae.ipynb", REPO_ROOT / "autograder" / "checks" / "regimes.py",
            REPO_ROOT / "solutions", REPO_ROOT / "autograder", course / "gradebook.db", course / "downloads",
            course / "downloads" / "other_vae.ipynb", token]
    write = [REPO_ROOT / "autograder" / "run_checks.py", course / "gradebook.db", course / "planted.txt",
             Path(torch.__file__), Path("/usr/planted.txt"), Path("/planted.txt"), Path("/dev/planted.txt")]
    yield {"read": [str(p) for p in read], "write": [str(p) for p in write], "course": str(course)}
    token.unlink()


def assert_confined(report: dict, where: str, grader_files: dict, own_folder: str) -> None:
    """`own_folder`: where the code may write besides /tmp and /dev/shm (its scratch or sockets folder, or above)."""
    escaped = sorted(k for k, v in report.items() if v == "SUCCEEDED")
    assert not escaped, f"From {where}, the student's code could: {', '.join(escaped)}"
    others = [m for m in report["writable mounts"] if m not in ("/tmp", "/dev/shm") and not m.startswith(own_folder)]
    assert not others, f"From {where}, the student's code may write in {others}, not only in /tmp, /dev/shm and its folder"
    assert report["CapEff"] == "0000000000000000", f"From {where}, the code held capabilities {report['CapEff']}"
    assert report["NoNewPrivs"] == "1" and report["uid"] == 65534, f"From {where}: {report['NoNewPrivs']=}, {report['uid']=}"
    absent = [k for k, v in report.items() if k.startswith(("read ", "list ")) and "ENOENT" not in v
              and not (k.startswith("list ") and "ENOTDIR" in v)]
    assert not absent, f"From {where}, these grader files exist for the student's code (even if unreadable): {absent}"
    assert len(report["processes visible"]) <= 3, f"From {where}, other processes are visible: {report['processes visible']}"
    assert not report["terminals held"], f"From {where}, the code holds the grader's terminal: {report['terminals held']}"
    assert (Path(grader_files["course"]) / "gradebook.db").read_text() == "grades"
    assert not (Path(grader_files["course"]) / "planted.txt").exists()


PROBE = "def call(student, inputs):\n    return {'report': __import__('json').dumps(student['escape_attempts'](inputs['paths']))}\n"


@pytest.mark.parametrize("how", ["one child per probe", "probe server"])
def test_no_escape_from_a_probe(how, grader_files, tmp_path):
    inputs = {"paths": {k: grader_files[k] for k in ("read", "write")}}
    if how == "one child per probe":
        outcome = run(ESCAPES, PROBE, "call", inputs, tmp_path / "scratch", ProbeLimits(seconds=30))
    else:
        with ProbeServer(ProbeLimits(seconds=30)) as server:
            outcome = server.run(ESCAPES, PROBE, "call", inputs, tmp_path / "probes" / "scratch")
    assert outcome.ok, outcome.message + outcome.output
    assert_confined(json.loads(outcome.data["report"]), f"a probe ({how})", grader_files, str(tmp_path.resolve()))


def test_no_escape_from_a_notebook_cell(grader_files, tmp_path):
    """A cell of the student's notebook, in the kernel nbgrader starts (ConfinedKernelManager)."""
    paths = {k: grader_files[k] for k in ("read", "write")}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(ESCAPES),
                                         nbformat.v4.new_code_cell(f"print(json.dumps(escape_attempts({paths!r})))")])
    NotebookClient(nb, timeout=60, kernel_name="python3", kernel_manager_class=ConfinedKernelManager,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "".join(o.get("text", "") for o in nb.cells[1].outputs if o.output_type == "stream")
    assert_confined(json.loads(text), "a notebook cell", grader_files, "/tmp/vae-kernel-")   # its sockets folder


def test_a_notebook_cell_cannot_make_the_grader_connect_to_another_socket_of_the_machine(tmp_path):
    """ZeroMQ reconnects a dropped connection to the same path: a cell that closes one of its kernel's sockets
    and puts a link to another UNIX socket in its place must not get the grader (its user, root maybe)
    connected there. The target stands for any socket of the machine (docker's, a database's, systemd's)."""
    import socket
    import threading
    target = tmp_path / "target.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(target))
    listener.listen(8)
    listener.settimeout(0.2)
    reached, running = [], [True]

    def accept():
        while running[0]:
            try:
                reached.append(listener.accept()[0])
            except OSError:
                pass
    thread = threading.Thread(target=accept)
    thread.start()
    swap = (f"import glob, json, os\nfrom ipykernel.kernelapp import IPKernelApp\n"
            f"info = json.load(open(glob.glob('/tmp/vae-kernel-*/connection.json')[0]))\n"
            f"IPKernelApp.instance().stdin_socket.close(linger=0)\n"
            f"path = info['ip'] + '-' + str(info['stdin_port'])\n"
            f"os.unlink(path)\nos.symlink({str(target)!r}, path)\nprint('replaced', path)")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(swap),
                                         nbformat.v4.new_code_cell("import time; time.sleep(3)")])
    try:
        NotebookClient(nb, timeout=60, kernel_name="python3", kernel_manager_class=ConfinedKernelManager,
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
        time.sleep(1)
    finally:
        running[0] = False
        thread.join()
        listener.close()
    said = "".join(o.get("text", "") for o in nb.cells[0].outputs if o.output_type == "stream")
    assert "replaced" in said, f"the cell could not replace its socket, so this tests nothing: {nb.cells[0].outputs}"
    assert not reached, f"the grader connected {len(reached)} time(s) to a socket the notebook's cell pointed it at"


def test_a_notebook_cell_has_no_network_and_no_grader_secret(monkeypatch, tmp_path):
    monkeypatch.setenv("GRADEBOOK_PASSWORD", "hunter2")
    code = ("import os, socket\n"
            "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=2); net = 'SUCCEEDED'\n"
            "except OSError as e:\n    net = type(e).__name__\n"
            "print(net, sorted(socket.if_nameindex()), 'GRADEBOOK_PASSWORD' in os.environ)")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(nb, timeout=60, kernel_name="python3", kernel_manager_class=ConfinedKernelManager,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs if o.output_type == "stream")
    assert not text.startswith("SUCCEEDED"), f"A notebook cell reached the internet: {text}"
    assert text.rstrip().endswith("False"), f"A notebook cell saw the grader's secret: {text}"


def test_a_forged_zero_stride_result_is_refused_before_the_grader_uses_it(tmp_path):
    """A result that stands for a huge tensor with a few bytes of storage never reaches a check."""
    code = ("import torch\n_save = torch.save\n"
            "torch.save = lambda obj, f, *a, **k: _save({'y': torch.zeros(1).expand(1000, 784)}, f)\n"
            "def f(x):\n    return x\n")
    outcome = run(code, "def call(student, inputs):\n    return {'y': student['f'](inputs['x'])}\n", "call",
                  {"x": torch.zeros(3)}, tmp_path / "scratch", ProbeLimits(seconds=30))
    assert outcome.status == "error" and "storage does not hold" in outcome.message, outcome.message


def test_an_oversized_result_is_refused(tmp_path):
    code = "import torch\ndef f(x):\n    return torch.zeros(20 * 2**20)\n"   # 80 MiB of float32
    outcome = run(code, "def call(student, inputs):\n    return {'y': student['f'](inputs['x'])}\n", "call",
                  {"x": torch.zeros(3)}, tmp_path / "scratch", ProbeLimits(seconds=30))
    assert outcome.status == "error" and "64 MiB" in outcome.message, outcome.message


def test_a_probe_that_kills_the_server_and_plants_links_cannot_make_the_grader_write_through_them(tmp_path):
    """The fallback after a failed probe server runs in a fresh folder: links the probe left are never followed."""
    canary = tmp_path / "canary.txt"
    canary.write_text("untouched")
    code = ("import os, signal, time\n"
            "def f(x):\n"
            "    if os.path.exists('probe.py') and os.getpid() != 1:\n"
            "        for name in ('submission.json', 'probe.py', 'inputs.pt', 'output.log'):\n"
            "            try:\n                os.remove(name)\n            except OSError:\n                pass\n"
            f"            os.symlink({str(canary)!r}, name)\n"
            "        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):\n"
            "            try:\n                os.kill(1, sig)\n            except OSError:\n                pass\n"
            "        time.sleep(2)\n"
            "    return x\n")
    probe = "def call(student, inputs):\n    return {'y': student['f'](inputs['x'])}\n"
    with ProbeServer(ProbeLimits(seconds=30)) as server:
        outcome = server.run(code, probe, "call", {"x": torch.zeros(3)}, tmp_path / "probes" / "scratch")
        again = server.run("def f(x):\n    return x + 1\n", probe, "call", {"x": torch.zeros(3)},
                           tmp_path / "probes" / "scratch2")
    assert canary.read_text() == "untouched", "The grader wrote through a link a probe planted"
    assert again.ok and torch.equal(again.data["y"], torch.ones(3)), f"The server did not survive: {again.message}"


def test_results_built_to_be_slow_or_huge_to_read_are_refused_quickly(tmp_path):
    import time
    for name, forged in [
        ("shared references", "x = []\nfor _ in range(60):\n    x = [x, x]\nresult = {'y': x}"),
        ("two million keys", "result = {'y': {str(i): i for i in range(2_000_000)}}"),
        ("a compressed record", "result = None"),
    ]:
        code = ("import torch, zipfile, io\n" + forged + "\n_save = torch.save\n"
                "def save(obj, f, *a, **k):\n"
                "    if result is not None:\n        return _save(result, f)\n"
                "    buffer = io.BytesIO(); _save({'y': torch.zeros(2**20)}, buffer)\n"
                "    source = zipfile.ZipFile(buffer)\n"
                "    with zipfile.ZipFile(f, 'w', zipfile.ZIP_DEFLATED) as out:\n"
                "        for m in source.infolist():\n            out.writestr(m.filename, source.read(m))\n"
                "torch.save = save\ndef f(x):\n    return x\n")
        started = time.perf_counter()
        outcome = run(code, "def call(student, inputs):\n    return {'y': student['f'](inputs['x'])}\n", "call",
                      {"x": torch.zeros(3)}, tmp_path / name.replace(" ", "-"), ProbeLimits(seconds=60))
        assert outcome.status == "error" and "refused" in outcome.message, f"{name}: {outcome.message}"
        assert time.perf_counter() - started < 30, f"{name}: reading the results took {time.perf_counter() - started:.0f} s"


# Runs inside policy.grading_command, as nbgrader does: a probe that writes 1 MiB files into its folder until it
# cannot, then says how much it wrote and why it stopped.
FILLING_GRADING = r'''
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from autograder.sandbox.limits import ProbeLimits
from autograder.sandbox.runner import run
FILL = """
import os
def fill():
    written, said = 0, "no error"
    try:
        for n in range(256):
            with open(f"fill-{n}", "wb") as f:
                f.write(b"x" * 2**20)
            written += 1
    except OSError as e:
        said = e.strerror
    for n in range(256):
        if os.path.exists(f"fill-{n}"):
            os.unlink(f"fill-{n}")
    return {"written": written, "said": said}
"""
outcome = run(FILL, "def call(student, inputs):\n    return student['fill']()\n", "call", {},
              Path(sys.argv[2]) / "probe", ProbeLimits(seconds=60))
print(json.dumps({"status": outcome.status, "message": outcome.message, **outcome.data}))
'''


def _run_grading(argv: list[str], private: dict, before_run=lambda: None, own_user: bool | None = None):
    """argv under policy.grading_command, as grade_student runs nbgrader: (its result, whether it started)."""
    import subprocess

    from autograder.sandbox.policy import grading_command, grading_started

    started_read, started_write = os.pipe()
    try:
        grading = grading_command(argv, private, started_write, own_user=own_user)
        before_run()
        result = subprocess.run(grading, capture_output=True, text=True, pass_fds=(started_write,), timeout=120)
    finally:
        os.close(started_write)
    started = grading_started(started_read)
    os.close(started_read)
    return result, started


@pytest.mark.parametrize("own_user", [None, False], ids=["as this grader mounts", "in a user namespace"])
def test_a_grading_stops_its_probes_filling_the_disk_at_its_folders_cap(tmp_path, own_user):
    """The probes' folder is on the machine's disk, but under grading_command (as every class grading runs) it is a
    memory file system of its own: a probe writing files until the disk is full stops at its cap, and nothing of
    it reaches the disk. Both ways of mounting it: root that may mount keeps its own user, any other grader
    gets a user namespace."""
    import sys

    shared = tmp_path / "checks"
    shared.mkdir()
    result, started = _run_grading([sys.executable, "-c", FILLING_GRADING, str(REPO_ROOT), str(shared)],
                                   {shared: 16 * 2**20}, own_user=own_user)
    assert started, f"bubblewrap did not start the grading: {result.stderr[-2000:]}"
    said = json.loads(result.stdout.strip().splitlines()[-1])
    assert said["status"] == "ok", said
    assert said["written"] < 16 and said["said"] == "No space left on device", (
        f"The probe wrote {said['written']} MiB into a folder capped at 16 MiB ({said['said']})")
    assert list(shared.iterdir()) == [], f"The probe's files reached the disk: {list(shared.iterdir())}"


def test_a_grading_whose_private_folders_cannot_be_made_is_not_started(tmp_path):
    """bubblewrap reports a child as soon as it has one, before its mounts: only a grading it went on to run
    counts as started (grade_student calls any other the machine's error, not the notebook's)."""
    private, ran = tmp_path / "probes", tmp_path / "ran"
    private.mkdir()

    def replace_by_a_file():   # bubblewrap cannot mount a file system on a file
        private.rmdir()
        private.write_text("a file where the folder was")

    result, started = _run_grading(["touch", str(ran)], {private: 2**20}, before_run=replace_by_a_file)
    assert not started and not ran.exists(), "A grading whose private folder could not be mounted started"
    assert "bwrap" in result.stderr, f"bubblewrap did not say why it stopped: {result.stderr!r}"
    result, started = _run_grading(["touch", str(ran)], {})
    assert started and ran.exists(), f"A grading with nothing to mount did not start: {result.stderr[-2000:]}"
