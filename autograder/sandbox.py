"""Run untrusted student code in a child process and get plain data back.

Why a child process: anything decided inside the student's interpreter can be forged (the
student's code can monkeypatch whatever a check calls), and a runaway call (an infinite loop,
a memory blow-up, sys.exit, os._exit, a kill signal) must cost only the call that ran away.

The child
- runs `python -I` in a fresh scratch directory with a minimal environment (no secrets);
- has limits on wall time, memory (RLIMIT_DATA), file size and core dumps;
- where Linux namespaces allow it, runs confined as the notebook's kernel is (autograder/jail.py):
  no network at all, its own PID namespace (no process outlives the probe, none outside is
  visible), every mount read-only but its scratch folder, a fresh /tmp, and the paths in
  `Limits.hidden` (and in $VAE_SANDBOX_HIDDEN, set by the class grader) looking empty;
- returns its results as a dict of tensors and numbers saved with torch.save and loaded here
  with `weights_only=True`, so no student object is ever unpickled in the grading process.

The probe (trusted code that calls the student's functions) runs inside the child, so its
results are data to verify, never verdicts: the checks in the grading process decide.
"""
from __future__ import annotations

import ctypes
import json
import os
import resource
import select
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

# What the child runs. It is passed on the command line, so the child needs no file of ours.
_CHILD_BODY = r'''
import json, os, sys, traceback
import torch


def _report(kind, message):
    with open("error.json", "w") as f:
        json.dump({"kind": kind, "message": message}, f)


def _run_probe(threads, entry):
    # Runs in the scratch directory; never returns: the process ends here.
    torch.set_num_threads(threads)
    try:
        _inputs = torch.load("inputs.pt", weights_only=True)
        _student = {"__name__": "submission"}
        try:
            exec(compile(open("submission.py").read(), "submission.py", "exec"), _student)
        except BaseException as e:
            _report("load", f"{type(e).__name__}: {e}")
            os._exit(3)
        _probe = {"__name__": "probe"}
        exec(compile(open("probe.py").read(), "probe.py", "exec"), _probe)
        try:
            _result = _probe[entry](_student, _inputs)
        except BaseException as e:
            _frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == "submission.py"]
            _where = f" (in {_frames[-1].name}: {_frames[-1].line})" if _frames else ""
            _report("call", f"{type(e).__name__}: {e}{_where}")
            os._exit(4)
        torch.save(_result, "result.pt")
        sys.stdout.flush()
        os._exit(0)   # do not wait for threads the submission may have left running
    except BaseException as e:
        _report("internal", f"{type(e).__name__}: {e}")
        os._exit(5)
'''

# One probe, one process: python -c _CHILD threads entry (in the scratch directory).
_CHILD = _CHILD_BODY + "\n_run_probe(int(sys.argv[1]), sys.argv[2])\n"

# The fork server: imports torch once, then forks a fresh child per request line on stdin
# ({"scratch", "entry", "threads", "memory", "files"}); answers {"pid"} then {"status"} on stdout.
_SERVER = _CHILD_BODY + r'''
import ctypes, resource, signal
for _line in sys.stdin:
    _request = json.loads(_line)
    _pid = os.fork()
    if _pid == 0:
        os.setsid()
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)   # PR_SET_PDEATHSIG: dies with the server
        resource.setrlimit(resource.RLIMIT_DATA, (_request["memory"], _request["memory"]))
        resource.setrlimit(resource.RLIMIT_FSIZE, (_request["files"], _request["files"]))
        os.chdir(_request["scratch"])
        _log = os.open("output.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        _null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(_null, 0), os.dup2(_log, 1), os.dup2(_log, 2)   # the protocol pipes are gone for the probe
        _run_probe(_request["threads"], _request["entry"])
    print(json.dumps({"pid": _pid}), flush=True)
    _, _status = os.waitpid(_pid, 0)
    _code = -os.WTERMSIG(_status) if os.WIFSIGNALED(_status) else os.WEXITSTATUS(_status)
    if os.getpid() == 1:   # confined (a PID namespace of our own): nothing the probe started outlives it
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
    print(json.dumps({"status": _code}), flush=True)
'''


@dataclass(frozen=True)
class Limits:
    seconds: float = 60.0
    memory_bytes: int = 3 * 2**30        # RLIMIT_DATA: torch itself needs about 0.8 GiB
    file_bytes: int = 64 * 2**20         # the largest file the child may write
    threads: int = 1                     # torch threads: one per child keeps parallel grading fair
    hidden: tuple[Path, ...] = ()        # folders and files the child must not see
    isolate: bool = True                 # use `unshare -rmn` when the kernel allows it


@dataclass
class Outcome:
    """What came back from one sandboxed call. `ok` means data came back, not that it is right."""
    status: str                          # ok | error | timeout | memory | died
    message: str                         # plain words for the student's report
    data: dict = field(default_factory=dict)
    seconds: float = 0.0
    output: str = ""                     # the tail of what the child printed

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def namespaces_available() -> bool:
    """True when the confinement of autograder/jail.py works here (user, mount, PID, network namespaces)."""
    from .jail import available
    return available()


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux only: the child is killed when the grader that started it dies, so no probe outlives it."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _set_limits(limits: Limits):
    def apply() -> None:
        _die_with_parent()
        resource.setrlimit(resource.RLIMIT_DATA, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


HIDDEN_ENV = "VAE_SANDBOX_HIDDEN"   # more paths to hide, os.pathsep-separated (set by grade_student)


def _isolated(limits: Limits, python: list[str], writable: Path, server: bool = False) -> list[str]:
    """`python` confined (autograder/jail.py) with `writable` its only writable folder, when the kernel allows it.

    A server is PID 1 of its namespace (it kills what each probe left behind); a one-shot child
    runs under a shell that is PID 1, so that a probe can still kill itself, as it could anywhere.
    """
    if not (limits.isolate and namespaces_available()):
        return python
    from .jail import confinement_script
    extra = [Path(p) for p in os.environ.get(HIDDEN_ENV, "").split(os.pathsep) if p]
    hidden = [p for p in dict.fromkeys([*limits.hidden, *extra]) if p != writable and p not in writable.parents]
    script = confinement_script(writable, hidden, 64 * 2**20, shared=writable)
    script += '\nexec "$@"' if server else '\n"$@"\nexit $?'
    return ["unshare", "--user", "--map-root-user", "--mount", "--net", "--pid", "--fork", "--kill-child",
            "--mount-proc", "sh", "-c", script, "sandbox", *python]


def _child_env(scratch: Path) -> dict[str, str]:
    """Only what Python and torch need: no tokens, no database URLs, no grader settings."""
    return {"PATH": os.defpath, "HOME": str(scratch), "TMPDIR": str(scratch), "LANG": "C.UTF-8",
            "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "CUDA_VISIBLE_DEVICES": ""}


def _prepare(code: str, probe: str, inputs: dict, scratch: Path) -> None:
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "submission.py").write_text(code, encoding="utf-8")
    (scratch / "probe.py").write_text(probe, encoding="utf-8")
    torch.save(inputs, scratch / "inputs.pt")


def run(code: str, probe: str, entry: str, inputs: dict, scratch: Path, limits: Limits = Limits()) -> Outcome:
    """Execute the student's `code`, then `probe`'s function `entry(student_namespace, inputs)`, in a new child.

    `scratch` must be a fresh, empty directory; it is the child's working directory and home.
    A ProbeServer does the same for many probes without starting Python and torch each time.
    """
    _prepare(code, probe, inputs, scratch)
    log = scratch / "output.log"
    python = [sys.executable, "-I", "-c", _CHILD, str(limits.threads), entry]
    command = _isolated(limits, python, scratch)
    started = time.perf_counter()
    with open(log, "wb") as out:
        child = subprocess.Popen(command, cwd=scratch, env=_child_env(scratch), stdin=subprocess.DEVNULL,
                                 stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                 preexec_fn=_set_limits(limits))
        timed_out = wait_then_kill_group(child, limits.seconds)
    returncode = child.returncode
    if command is not python and returncode is not None and returncode > 128:   # the confining shell's way
        returncode = 128 - returncode                                          # of saying "killed by a signal"
    return _outcome(scratch, returncode, timed_out, time.perf_counter() - started, _tail(scratch, "output.log"), limits)


class ProbeServer:
    """A sandboxed Python that has imported torch once and forks a fresh child for every probe.

    Each probe still runs in its own process, with its own limits, process group and scratch
    directory, so a runaway probe costs only itself; what the server saves is starting Python
    and importing torch (seconds) for every probe. The server itself runs no student code.
    Hidden paths and network isolation are those of the Limits the server was started with.
    """

    def __init__(self, limits: Limits = Limits()):
        self.limits = limits
        self._server: subprocess.Popen | None = None
        self._writable: Path | None = None   # the folder of the scratch folders (the server's only writable one)
        self._buffer = b""

    def __enter__(self) -> "ProbeServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._server is not None:
            _kill_group(self._server)
            self._server = None

    def _start(self, writable: Path) -> None:
        home = Path(tempfile.mkdtemp(prefix="probe-server-"))
        command = _isolated(self.limits, [sys.executable, "-I", "-c", _SERVER], writable, server=True)
        with open(home / "server.log", "wb") as log:
            self._server = subprocess.Popen(command, cwd=writable, env=_child_env(writable), stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=log, start_new_session=True,
                                            preexec_fn=_set_limits(self.limits))
        self._writable = writable
        self._buffer = b""

    def _read_message(self, timeout: float) -> dict | None:
        """The server's next JSON line, or None when none came within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._server.stdout], [], [], remaining)[0]:
                return None
            chunk = os.read(self._server.stdout.fileno(), 4096)
            if not chunk:
                raise ConnectionError("the probe server stopped")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def run(self, code: str, probe: str, entry: str, inputs: dict, scratch: Path, limits: Limits | None = None) -> Outcome:
        """Like sandbox.run, in a child forked from the server (restarted if it has died)."""
        limits = limits or self.limits
        _prepare(code, probe, inputs, scratch)
        writable = scratch.resolve().parent
        if self._server is not None and self._writable != writable:
            self.close()   # a server can write only in the folder it was started for
        if self._server is None or self._server.poll() is not None:
            self._start(writable)
        request = {"scratch": str(scratch), "entry": entry, "threads": limits.threads,
                   "memory": limits.memory_bytes, "files": limits.file_bytes}
        try:
            self._server.stdin.write((json.dumps(request) + "\n").encode())
            self._server.stdin.flush()
            forked = self._read_message(timeout=120)   # the first request also waits for torch's import
            if forked is None:
                raise ConnectionError("the probe server did not answer")
            started = time.perf_counter()
            finished = self._read_message(timeout=limits.seconds)
            timed_out = finished is None
            if timed_out:   # stop the server and all it runs (a confined probe's pid means nothing out here)
                self.close()
            returncode = finished["status"] if finished else None
        except (ConnectionError, BrokenPipeError, ValueError):
            self.close()
            return run(code, probe, entry, inputs, scratch, limits)   # fall back to a one-shot child
        return _outcome(scratch, returncode, timed_out, time.perf_counter() - started,
                        _tail(scratch, "output.log"), limits)


def wait_then_kill_group(child: subprocess.Popen, seconds: float) -> bool:
    """Wait up to `seconds` for `child` (started with start_new_session=True), then kill its whole group.

    The group goes either way: what the student's code left running (forks, sleepers, a kernel
    nbgrader did not stop) must not outlive the grading. Returns whether the time ran out.
    """
    try:
        child.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        return True
    finally:
        _kill_group(child)


def _kill_group(child: subprocess.Popen) -> None:
    """Kill the child and everything it started (background threads die with it, forks too)."""
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    child.wait()


def _open_result(scratch: Path, name: str):
    """A file the child left in its scratch folder, opened without following links (the child could plant
    one to make the grader read another file, or a FIFO to block it); None when there is no such plain file."""
    try:
        folder = os.open(scratch, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
    except OSError:
        return None
    finally:
        os.close(folder)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return os.fdopen(fd, "rb")


def _tail(scratch: Path, name: str, limit: int = 4000) -> str:
    f = _open_result(scratch, name)
    if f is None:
        return ""
    with f:
        f.seek(max(0, os.fstat(f.fileno()).st_size - limit))
        return f.read().decode("utf-8", errors="replace")


def _outcome(scratch: Path, returncode: int, timed_out: bool, seconds: float, output: str, limits: Limits) -> Outcome:
    def make(status: str, message: str, data: dict | None = None) -> Outcome:
        return Outcome(status, message, data or {}, seconds, output)

    if timed_out:
        return make("timeout", f"did not finish within {limits.seconds:g} s (an endless loop, or far too slow) and was stopped")
    error_file = _open_result(scratch, "error.json")
    if error_file is not None:
        try:
            with error_file:
                error = json.loads(error_file.read(2**20))
            kind, message = str(error["kind"]), str(error["message"])[:500]
        except (ValueError, KeyError, TypeError):
            return make("error", "the submission wrote over the grader's error report")
        if "MemoryError" in message or "DefaultCPUAllocator: can't allocate" in message:
            return make("memory", f"ran out of memory (limit {limits.memory_bytes / 2**30:g} GiB): {message}")
        if kind == "load":
            return make("error", f"your code failed while being loaded: {message}")
        if kind == "call":
            return make("error", f"your code raised {message}")
        return make("error", f"the grader could not run this check: {message}")
    result_file = _open_result(scratch, "result.pt") if returncode == 0 else None
    if result_file is not None:
        try:
            with result_file:
                data = torch.load(result_file, weights_only=True)
        except Exception as e:
            return make("error", f"the results of this check could not be read safely ({type(e).__name__})")
        if not isinstance(data, dict):
            return make("error", "the results of this check are not of the expected form")
        return make("ok", "ran to the end", data)
    if returncode is not None and returncode < 0:
        name = signal.Signals(-returncode).name
        return make("died", f"the process was killed by {name} before the check finished")
    return make("died", f"the process ended (exit code {returncode}) before the check finished: "
                        "does your code call sys.exit, os._exit or kill itself?")
