"""The sandbox holds against a student who has read this repository: no escape from a kernel cell or a probe.

The same escape attempts run in both places untrusted code runs: a cell of the notebook's kernel
(started by ConfinedKernelManager, as nbgrader starts it) and a probe of the hidden checks (the
runner, as the checks call it). Each attempt must be refused, and the grader's files must not
exist at all for the student's code, whatever their path.
"""
from __future__ import annotations

import json
import os
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
    out["setns into PID 1's mount namespace"] = _call(_libc.setns, os.open("/proc/1/ns/mnt", os.O_RDONLY), 0)
    out["chroot"] = _call(_libc.chroot, b"/tmp")
    for path in paths["read"]:
        out[f"read {path}"] = _python(lambda: open(path, "rb").read(1))
        out[f"list {path}"] = _python(lambda: os.listdir(path))
    for path in paths["write"]:
        out[f"write {path}"] = _python(lambda: open(path, "a").write("# planted by the student"))
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
             Path(torch.__file__), Path("/usr/planted.txt"), Path("/planted.txt")]
    yield {"read": [str(p) for p in read], "write": [str(p) for p in write], "course": str(course)}
    token.unlink()


def assert_confined(report: dict, where: str, grader_files: dict) -> None:
    escaped = sorted(k for k, v in report.items() if v == "SUCCEEDED")
    assert not escaped, f"From {where}, the student's code could: {', '.join(escaped)}"
    assert report["CapEff"] == "0000000000000000", f"From {where}, the code held capabilities {report['CapEff']}"
    assert report["NoNewPrivs"] == "1" and report["uid"] == 65534, f"From {where}: {report['NoNewPrivs']=}, {report['uid']=}"
    absent = [k for k, v in report.items() if k.startswith(("read ", "list ")) and "ENOENT" not in v
              and not (k.startswith("list ") and "ENOTDIR" in v)]
    assert not absent, f"From {where}, these grader files exist for the student's code (even if unreadable): {absent}"
    assert len(report["processes visible"]) <= 3, f"From {where}, other processes are visible: {report['processes visible']}"
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
    assert_confined(json.loads(outcome.data["report"]), f"a probe ({how})", grader_files)


def test_no_escape_from_a_notebook_cell(grader_files, tmp_path):
    """A cell of the student's notebook, in the kernel nbgrader starts (ConfinedKernelManager)."""
    paths = {k: grader_files[k] for k in ("read", "write")}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(ESCAPES),
                                         nbformat.v4.new_code_cell(f"print(json.dumps(escape_attempts({paths!r})))")])
    NotebookClient(nb, timeout=60, kernel_name="python3", kernel_manager_class=ConfinedKernelManager,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "".join(o.get("text", "") for o in nb.cells[1].outputs if o.output_type == "stream")
    assert_confined(json.loads(text), "a notebook cell", grader_files)


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
