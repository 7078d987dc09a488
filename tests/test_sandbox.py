"""The sandbox runs student code in a child process: data comes back, nothing else gets out."""
from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
import torch

from autograder.sandbox.limits import ProbeLimits as Limits
from autograder.sandbox.policy import available
from autograder.sandbox.runner import ProbeServer, run

PROBE = '''
import torch
def call(student, inputs):
    return {"y": student["f"](inputs["x"])}
'''
FAST = Limits(seconds=20)
needs_sandbox = pytest.mark.skipif(not available(), reason="bubblewrap cannot run here (see autograder/sandbox/policy.py)")


@pytest.fixture(scope="module")
def servers():
    """One probe server confined and one not (what a server fixes when it starts)."""
    started: dict = {}
    yield started
    for server in started.values():
        server.close()


@pytest.fixture(params=["one child per probe", "probe server"])
def call(request, servers, tmp_path):
    """call(code, limits) runs PROBE on the code both ways: a new process each time, or forked from a server."""
    def call(code: str, limits: Limits = FAST, x=None):
        inputs = {"x": torch.arange(4.0) if x is None else x}
        if request.param == "one child per probe":
            return run(code, PROBE, "call", inputs, tmp_path / "scratch", limits)
        # A server may write in the folder of its scratch folders (one student's probes), nothing else.
        key = limits.confined
        if key not in servers:
            servers[key] = ProbeServer(limits)
        return servers[key].run(code, PROBE, "call", inputs, tmp_path / "probes" / "scratch", limits)
    return call


def test_results_come_back_as_plain_tensors(call):
    outcome = call("def f(x):\n    return x * 2\n")
    assert outcome.ok, outcome.message
    assert torch.equal(outcome.data["y"], torch.arange(4.0) * 2)


def test_an_exception_is_reported_with_its_type_and_line(call, tmp_path):
    outcome = call("def f(x):\n    raise NotImplementedError()\n")
    assert outcome.status == "error"
    assert "NotImplementedError" in outcome.message and "in f: raise NotImplementedError()" in outcome.message


@pytest.mark.parametrize("code, words", [
    ("import sys\nsys.exit(0)\ndef f(x):\n    return x\n", "SystemExit"),
    ("def f(x):\n    import sys\n    sys.exit(0)\n", "SystemExit"),
    ("def f(x):\n    import os\n    os._exit(0)\n", "sys.exit, os._exit"),
    ("def f(x):\n    import os, signal\n    os.kill(os.getpid(), signal.SIGKILL)\n", "SIGKILL"),
    ("def f(x):\n    import os, signal\n    signal.signal(40, signal.SIG_DFL)\n    os.kill(os.getpid(), 40)\n",
     "killed by signal 40"),
])
def test_a_submission_that_ends_its_process_loses_only_this_call(call, code, words, tmp_path):
    outcome = call(code)
    said = [outcome.message] + [message for _, message in outcome.load_failures]   # sys.exit while loading: recorded
    assert not outcome.ok and any(words in text for text in said), said


def test_a_statement_that_fails_to_load_costs_only_what_it_defines(call):
    outcome = call([("a cell", 1, "import torch"), ("a cell", 2, "SCALE = 1 / 0"),
                    ("another cell", 1, "def f(x):\n    return x * 2\n"), ("another cell", 3, "def g(x):\n    return SCALE\n")])
    assert outcome.ok and torch.equal(outcome.data["y"], torch.arange(4.0) * 2), outcome.message


def test_a_name_that_a_failed_statement_defines_is_reported_with_the_failure(call):
    outcome = call([("a cell", 1, "SCALE = 1 / 0"), ("a cell", 2, "def f(x):\n    return x * SCALE\n")])
    assert outcome.missing_name == "SCALE" and outcome.load_failures == [(0, "ZeroDivisionError: division by zero")]
    assert "in f: return x * SCALE" in outcome.message, outcome.message


def test_a_statement_that_loads_forever_is_stopped_and_the_rest_still_loads(call):
    outcome = call([("a cell", 1, "while True:\n    pass\n"), ("a cell", 3, "def f(x):\n    return x\n")],
                   Limits(seconds=30, statement_seconds=1))
    assert outcome.ok and torch.equal(outcome.data["y"], torch.arange(4.0)) and outcome.seconds < 15, outcome.message


def test_a_statement_stopped_while_loading_is_named_when_the_call_fails(call):
    outcome = call([("a cell", 1, "while True:\n    pass\n"), ("a cell", 3, "def f(x):\n    return y\n")],
                   Limits(seconds=30, statement_seconds=1))
    assert outcome.load_failures == [(0, "it took longer than 1 s")], outcome.message


def test_an_endless_loop_is_stopped_at_the_time_limit(call, tmp_path):
    started = time.perf_counter()
    outcome = call("def f(x):\n    while True:\n        pass\n", Limits(seconds=3))
    assert outcome.status == "timeout" and "3 s" in outcome.message
    assert time.perf_counter() - started < 15


def test_a_memory_blow_up_is_reported_as_such(call, tmp_path):
    outcome = call("import torch\ndef f(x):\n    return torch.ones(2**31, dtype=torch.float64)\n")
    assert outcome.status == "memory", outcome.message


def test_a_thread_left_sleeping_does_not_hold_the_grader(call, tmp_path):
    code = ("import threading, time\n"
            "def f(x):\n    threading.Thread(target=time.sleep, args=(10**6,)).start()\n    return x\n")
    outcome = call(code, Limits(seconds=20))
    assert outcome.ok and outcome.seconds < 15


def test_a_forged_pickle_in_place_of_the_results_is_never_unpickled(call, tmp_path):
    marker = tmp_path / "pwned"
    code = (
        "import pickle, torch\n"
        "class Evil:\n"
        f"    def __reduce__(self):\n        return (open, ({str(marker)!r}, 'w'))\n"
        "def forged_save(obj, path, *a, **k):\n    open(path, 'wb').write(pickle.dumps({'y': Evil()}))\n"
        "torch.save = forged_save\n"
        "def f(x):\n    return x\n")
    outcome = call(code, Limits(seconds=20, confined=False))
    assert outcome.status == "error" and "not a torch.save archive" in outcome.message, outcome.message
    assert not marker.exists()


TRAIN_A_CONV_NET = """
import ctypes, torch

class MallocInfo(ctypes.Structure):   # glibc's struct mallinfo2
    _fields_ = [(name, ctypes.c_size_t) for name in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

def f(x):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 32, 4, 2, 1), torch.nn.BatchNorm2d(32), torch.nn.ReLU(),
                              torch.nn.Flatten(), torch.nn.Linear(32 * 14 * 14, 10))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    images = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    for _ in range(5):   # activations of megabytes: blocks glibc would hand back to the system after every step
        loss = net(images).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    block = torch.empty(40 * 2**20 // 4)   # 40 MB: above glibc's own largest threshold (32 MB)
    mallinfo2 = ctypes.CDLL(None).mallinfo2
    mallinfo2.restype = MallocInfo
    return {"weights": torch.cat([p.detach().flatten() for p in net.parameters()]),
            "mapped_mb": torch.tensor(mallinfo2().hblkhd // 2**20), "block": torch.tensor(block.numel())}
"""


def test_keeping_freed_memory_in_the_probe_changes_no_training_result(monkeypatch, tmp_path):
    """The probe's allocator setting (runner._PROBE_ENV) takes effect in the probe, forked from a server or not,
    and leaves its training bit for bit the same."""
    from autograder.sandbox import runner
    inputs = {"x": torch.zeros(1)}
    kept = run(TRAIN_A_CONV_NET, PROBE, "call", inputs, tmp_path / "kept", FAST)
    with ProbeServer(FAST) as server:
        forked = server.run(TRAIN_A_CONV_NET, PROBE, "call", inputs, tmp_path / "server" / "scratch", FAST)
    monkeypatch.setattr(runner, "_PROBE_ENV", {k: v for k, v in runner._PROBE_ENV.items() if not k.startswith("MALLOC_")})
    default = run(TRAIN_A_CONV_NET, PROBE, "call", inputs, tmp_path / "default", FAST)
    assert kept.ok and forked.ok and default.ok, kept.message + forked.message + default.message
    assert default.data["y"]["mapped_mb"].item() >= 40, "the control: without the setting glibc maps a 40 MB block"
    for outcome in (kept, forked):
        assert outcome.data["y"]["mapped_mb"].item() == 0, "the allocator setting did not take effect in the probe"
        assert torch.equal(outcome.data["y"]["weights"], default.data["y"]["weights"]), (
            "the allocator setting changed what the probe computed: a student's grade would depend on it")


def test_a_probe_server_says_when_its_imports_are_done_and_then_runs_probes(tmp_path):
    """wait_ready: False while the server still imports torch, True once it has; probes then run as before.
    Grading holds the notebook's kernel back until then (nbgrader_plugin.StartHiddenChecks)."""
    (tmp_path / "probes").mkdir()
    with ProbeServer(FAST) as server:
        server.start(tmp_path / "probes")
        assert not server.wait_ready(timeout=0.05), "the server said it was ready before it could have imported torch"
        assert server.wait_ready(timeout=120), "the server never said it had done its imports"
        assert server.wait_ready(timeout=0), "the server's readiness was forgotten once read"
        outcome = server.run("def f(x):\n    return x + 1\n", PROBE, "call", {"x": torch.zeros(2)},
                             tmp_path / "probes" / "scratch", FAST)
        assert outcome.ok and torch.equal(outcome.data["y"], torch.ones(2)), outcome.message
        server.close()
        assert not server.wait_ready(timeout=1), "a stopped server was reported ready"


def test_the_child_sees_no_secret_of_the_graders_environment(call, monkeypatch, tmp_path):
    monkeypatch.setenv("GRADEBOOK_PASSWORD", "hunter2")
    code = "import os, torch\ndef f(x):\n    return torch.tensor(len(os.environ.get('GRADEBOOK_PASSWORD', '')))\n"
    outcome = call(code)
    assert outcome.ok and outcome.data["y"].item() == 0


@needs_sandbox
def test_the_child_has_no_network(call, tmp_path):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        code = f"import socket\ndef f(x):\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n    return x\n"
        outcome = call(code)
    assert outcome.status == "error" and ("OSError" in outcome.message or "Connection" in outcome.message), outcome.message


@needs_sandbox
def test_files_outside_the_allow_list_do_not_exist_for_the_child(call, tmp_path):
    """The grader's files (here a stand-in course beside the scratch folder) are absent, whatever their path."""
    secret_dir, secret_file = tmp_path / "solutions", tmp_path / "gradebook.db"
    secret_dir.mkdir()
    (secret_dir / "vae.ipynb").write_text("reference solution")
    secret_file.write_text("grades")
    code = (
        "import os, torch\n"
        "def attempt(action):\n    try:\n        return action()\n    except OSError:\n        return None\n"
        "def f(x):\n"
        f"    listing = attempt(lambda: os.listdir({str(secret_dir)!r})) or []\n"
        f"    content = attempt(lambda: open({str(secret_file)!r}).read()) or ''\n"
        f"    attempt(lambda: open({str(secret_file)!r}, 'w').write('all 45 points'))\n"
        f"    attempt(lambda: open(os.path.join({str(secret_dir)!r}, 'new.txt'), 'w').write('x'))\n"
        "    return torch.tensor([len(listing), len(content)])\n")
    outcome = call(code, Limits(seconds=20))
    assert outcome.ok, outcome.message
    assert outcome.data["y"].tolist() == [0, 0], "the child read a file that is not on the sandbox's allow-list"
    assert secret_file.read_text() == "grades" and sorted(p.name for p in secret_dir.iterdir()) == ["vae.ipynb"]


@pytest.mark.parametrize("how", ["one child per probe", "probe server"])
def test_no_probe_outlives_a_grader_that_is_killed(how, tmp_path):
    """A grader killed mid-check (a timeout, Ctrl-C, an OOM kill) leaves no student code running."""
    import os
    import signal
    import subprocess
    import sys
    marker = f"grader-{os.getpid()}-{how.replace(' ', '-')}"
    grader = f'''
import sys, torch
from pathlib import Path
from autograder.sandbox.limits import ProbeLimits as Limits
from autograder.sandbox.runner import ProbeServer, run
code = "def f(x):\\n    while True:\\n        pass\\n    # {marker}\\n"
probe = "def call(student, inputs):\\n    return {{'y': student['f'](inputs['x'])}}\\n"
limits = Limits(seconds=600)
if "{how}" == "probe server":
    ProbeServer(limits).run(code, probe, "call", {{"x": torch.zeros(1)}}, Path(r"{tmp_path}") / "s", limits)
else:
    run(code, probe, "call", {{"x": torch.zeros(1)}}, Path(r"{tmp_path}") / "s", limits)
'''
    process = subprocess.Popen([sys.executable, "-c", grader], cwd=Path(__file__).parent.parent)
    scratch_code = tmp_path / "s" / "submission.json"
    deadline = time.monotonic() + 120
    while not (scratch_code.exists() and marker in scratch_code.read_text()) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)   # the probe is now looping
    process.send_signal(signal.SIGKILL)
    process.wait()
    time.sleep(1)

    def probes_alive() -> list[str]:
        alive = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and str(tmp_path / "s") == os.readlink(entry / "cwd"):
                    alive.append(entry.name)
            except OSError:
                pass
        return alive
    assert not probes_alive(), f"processes still running the killed grader's probe: {probes_alive()}"


