"""Run untrusted student code in a confined child process and get plain, validated data back.

Why a child process: anything decided inside the student's interpreter can be forged (the
student's code can monkeypatch whatever a check calls), and a runaway call (an infinite loop,
a memory blow-up, sys.exit, os._exit, a kill signal) must cost only the call that ran away.

The child runs `python -I` in a fresh scratch folder, confined by the sandbox policy
(sandbox/policy.py: an allow-list file system, no network, no capabilities, limits of
sandbox/limits.py). It returns its results as a dict of tensors and numbers saved with
torch.save; they are loaded here with `weights_only=True` (no student object is ever unpickled
in the grading process) and every tensor is checked to be what it claims to be (`_valid`).

The probe (trusted code that calls the student's functions) runs inside the child, after the
student's code, so its results are claims, never verdicts: the checks in the grading process
recompute what they judge.
"""
from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import policy
from .processes import kill_group as _kill_group
from .processes import remove_tree, wait_then_kill_group
from .limits import MAX_RESULT_BYTES, ProbeLimits

if TYPE_CHECKING:
    import torch
# torch is imported by the functions that use it, not here: the checks' pytest starts its probe server
# (whose Python imports torch for seconds) before it has imported torch itself, and the two imports overlap.

# Set by whoever starts nbgrader (workflow/grade_student.py): the folder in which the hidden checks make their
# probes' folder, rather than in their own grading folder (there, a capped file system of this grading's alone).
PROBES_PARENT = "VAE_PROBES_FOLDER"

# What the child runs. It is passed on the command line, so the child needs no file of ours.
_CHILD_BODY = r'''
import json, os, sys, traceback
import torch


def _report(kind, message, load_failures=(), missing_name=None):
    with open("error.json", "w") as f:
        json.dump({"kind": kind, "message": message, "load_failures": list(load_failures),
                   "missing_name": missing_name}, f)


def _plain(value):
    # Tensors as the grader accepts them: detached, contiguous, owning exactly their elements.
    if isinstance(value, torch.Tensor):
        return value.detach().contiguous().clone()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class _TooSlow(Exception):
    pass


def _too_slow(signum, frame):
    raise _TooSlow()


def _load(namespace, seconds):
    # The student's code, statement by statement (autograder/grading/extract.py): one that fails costs only
    # what it defines. Returns [[statement index, message], ...] of those that failed.
    import signal
    failures = []
    signal.signal(signal.SIGALRM, _too_slow)
    import linecache
    with open("submission.json", encoding="utf-8") as f:
        chunks = json.load(f)
    cells = {}   # each cell's lines where its statements stand, so that tracebacks can quote them
    for label, line, source in chunks:
        lines = cells.setdefault(label, [])
        for offset, text in enumerate(source.splitlines(), start=line - 1):
            lines.extend([""] * (offset + 1 - len(lines)))
            lines[offset] = text + "\n"
    for label, lines in cells.items():
        linecache.cache[label] = (sum(map(len, lines)), None, lines, label)
    for index, (label, line, source) in enumerate(chunks):
        try:
            code = compile("\n" * (line - 1) + source, label, "exec")
            signal.setitimer(signal.ITIMER_REAL, seconds)
            try:
                exec(code, namespace)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except _TooSlow:
            failures.append([index, f"it took longer than {seconds:g} s"])
        except BaseException as e:
            failures.append([index, f"{type(e).__name__}: {e}"[:300]])
    return failures, {label for label, _, _ in chunks}


def _run_probe(threads, entry, load_seconds):
    # Runs in the scratch directory; never returns: the process ends here.
    torch.set_num_threads(threads)
    try:
        _inputs = torch.load("inputs.pt", weights_only=True)
        _student = {"__name__": "submission"}
        _failures, _labels = _load(_student, load_seconds)
        _probe = {"__name__": "probe"}
        exec(compile(open("probe.py").read(), "probe.py", "exec"), _probe)
        try:
            _result = _probe[entry](_student, _inputs)
        except BaseException as e:
            _frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename in _labels]
            _where = f" (in {_frames[-1].name}: {_frames[-1].line})" if _frames else ""
            _report("call", f"{type(e).__name__}: {e}{_where}", _failures,
                    getattr(e, "name", None) if isinstance(e, NameError) else None)
            os._exit(4)
        try:
            torch.save(_plain(_result), "result.pt")
        except BaseException as e:
            _report("save", f"{type(e).__name__}: {e}")
            os._exit(6)
        sys.stdout.flush()
        os._exit(0)   # do not wait for threads the submission may have left running
    except BaseException as e:
        _report("internal", f"{type(e).__name__}: {e}")
        os._exit(5)
'''

# One probe, one process: python -c _CHILD threads entry (in the scratch directory).
_CHILD = _CHILD_BODY + "\n_run_probe(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]))\n"

# Modules the notebook's setup cell imports, imported by the probe server before it forks: a probe's
# child then finds them loaded (torchvision alone takes a second to import, in every probe). Only
# trusted modules of this environment, before any student code runs; a child's changes to them stay
# in that child.
PRELOADED = ("numpy", "torchvision", "torchvision.datasets", "torchvision.utils", "matplotlib", "matplotlib.pyplot",
             "tqdm", "tqdm.auto")

# The fork server: imports torch once and says {"ready"}, then forks a fresh child per request line on stdin
# ({"scratch", "entry", "threads", "memory", "files"}); answers {"pid"} then {"status"} on stdout.
_SERVER = _CHILD_BODY + r'''
import ctypes, resource, signal
# A probe must not take over the server that outlives it: non-dumpable (no ptrace, no /proc/1/fd
# for a process of the same user), and deaf to the signals it could send to its PID 1.
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)   # PR_SET_DUMPABLE 0
import importlib
for _module in sys.argv[1:]:   # PRELOADED: what the notebook imports, imported once instead of in every probe
    try:
        importlib.import_module(_module)
    except Exception:
        pass
for _signal in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGPIPE):
    signal.signal(_signal, signal.SIG_IGN)
print(json.dumps({"ready": True}), flush=True)   # imported: ProbeServer.wait_ready
for _line in sys.stdin:
    _request = json.loads(_line)
    _pid = os.fork()
    if _pid == 0:
        for _signal in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGPIPE):
            signal.signal(_signal, signal.SIG_DFL)
        os.setsid()
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)   # PR_SET_PDEATHSIG: dies with the server
        resource.setrlimit(resource.RLIMIT_DATA, (_request["memory"], _request["memory"]))
        resource.setrlimit(resource.RLIMIT_FSIZE, (_request["files"], _request["files"]))
        os.chdir(_request["scratch"])
        _log = os.open("output.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        _null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(_null, 0), os.dup2(_log, 1), os.dup2(_log, 2)   # the protocol pipes are gone for the probe
        _run_probe(_request["threads"], _request["entry"], _request["load_seconds"])
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


@dataclass
class Outcome:
    """What came back from one sandboxed call. `ok` means data came back, not that it is right."""
    status: str                          # ok | error | timeout | memory | died
    message: str                         # plain words for the student's report
    data: dict = field(default_factory=dict)
    seconds: float = 0.0
    output: str = ""                     # the tail of what the child printed
    missing_name: str | None = None      # the name of a NameError the call raised
    load_failures: list[tuple[int, str]] = field(default_factory=list)   # (statement index, message) that failed to load

    @property
    def ok(self) -> bool:
        return self.status == "ok"


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux only: the child is killed when the grader that started it dies, so no probe outlives it."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


# glibc's malloc hands a freed block of more than a few megabytes back to the system, and a training step
# frees and allocates its activations every time: each step then faults its memory in again. Blocks up to
# this size stay in the probe's heap instead (it ends after one probe; what it keeps still counts towards
# its memory limit, which the probes' megabytes of activations are far below): the grader's training runs
# 10-20% faster and computes bit for bit the same (tests/test_sandbox.py). Only memory read before it is
# written (torch.empty) can differ, as it already does from one run to the next.
_KEPT_ALLOCATION = 256 * 2**20

# What the probe's interpreter needs besides the policy's base environment.
_PROBE_ENV = {"MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "CUDA_VISIBLE_DEVICES": "",
              "MALLOC_MMAP_THRESHOLD_": str(_KEPT_ALLOCATION), "MALLOC_TRIM_THRESHOLD_": str(_KEPT_ALLOCATION)}


def _command(limits: ProbeLimits, python: list[str], writable: Path, server: bool = False) -> tuple[list[str], dict]:
    """`python` confined by the sandbox policy, `writable` its only writable folder; and the environment to start it in.

    A server is PID 1 of its namespace (it kills what each probe left behind); a one-shot child
    runs under bubblewrap's init, so that a probe can still kill itself, as it could anywhere.
    """
    if not limits.confined:
        env = {**policy.base_env(), **_PROBE_ENV, "HOME": str(writable), "TMPDIR": str(writable)}
        return policy.unconfined_command(python, limits.tree), env
    return (policy.command(python, limits.tree, writable=[writable], env=_PROBE_ENV, cwd=str(writable), pid1=server),
            {"PATH": os.defpath})


Code = str | Sequence[tuple[str, int, str]]   # source, or statements as (label, first line, source)


def _statements(code: Code) -> list[tuple[str, int, str]]:
    return [("submission.py", 1, code)] if isinstance(code, str) else [(str(a), int(b), str(c)) for a, b, c in code]


def _prepare(code: Code, probe: str, inputs: dict, scratch: Path) -> None:
    """Write the probe's files into `scratch`, an empty folder (made here if it does not exist).

    Untrusted code may have run in the folder holding `scratch` (a probe server's), so nothing
    here follows a link or writes over a file: every file is created anew in the folder opened
    without following links.
    """
    import torch

    scratch.parent.mkdir(parents=True, exist_ok=True)
    try:
        scratch.mkdir()
    except FileExistsError:
        pass
    folder = os.open(scratch, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        if os.listdir(folder):
            raise RuntimeError(f"the probe's scratch folder {scratch} is not empty")

        def create(name: str):
            return os.fdopen(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644,
                                     dir_fd=folder), "wb")
        with create("submission.json") as f:
            f.write(json.dumps(_statements(code)).encode("utf-8"))
        with create("probe.py") as f:
            f.write(probe.encode("utf-8"))
        with create("inputs.pt") as f:
            torch.save(inputs, f)
    finally:
        os.close(folder)


def run(code: Code, probe: str, entry: str, inputs: dict, scratch: Path, limits: ProbeLimits = ProbeLimits()) -> Outcome:
    """Execute the student's `code` (one statement at a time, see _load), then `probe`'s function `entry(student_namespace, inputs)`, in a new child.

    `scratch` must be a fresh, empty directory; it is the child's working directory and home.
    A ProbeServer does the same for many probes without starting Python and torch each time.
    """
    _prepare(code, probe, inputs, scratch)
    python = [sys.executable, "-I", "-c", _CHILD, str(limits.threads), entry, str(limits.statement_seconds)]
    command, env = _command(limits, python, scratch)
    started = time.perf_counter()
    with os.fdopen(os.open(scratch / "output.log", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644),
                   "wb") as out:
        child = subprocess.Popen(command, cwd=scratch, env=env, stdin=subprocess.DEVNULL,
                                 stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                 preexec_fn=_die_with_parent)
        timed_out = wait_then_kill_group(child, limits.seconds)
    returncode = child.returncode
    if limits.confined and returncode is not None and returncode > 128:   # bubblewrap's way of saying
        returncode = 128 - returncode                                    # "killed by a signal"
    return _outcome(scratch, returncode, timed_out, time.perf_counter() - started, _tail(scratch, "output.log"), limits)


class ProbeServer:
    """A sandboxed Python that has imported torch once and forks a fresh child for every probe.

    Each probe still runs in its own process, with its own limits, process group and scratch
    directory, so a runaway probe costs only itself; what the server saves is starting Python
    and importing torch (seconds) for every probe. The server itself runs no student code.
    Whether it is confined is fixed by the limits the server was started with.
    """

    def __init__(self, limits: ProbeLimits = ProbeLimits()):
        self.limits = limits
        self._server: subprocess.Popen | None = None
        self._writable: Path | None = None   # the folder of the scratch folders (the server's only writable one)
        self._buffer = b""
        self._ready = False   # the server said it has imported what it preloads

    def __enter__(self) -> "ProbeServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._server is not None:
            _kill_group(self._server)
            self._server = None
        self._ready = False

    def start(self, writable: Path) -> None:
        """Start the server for scratch folders in `writable` now, not at the first probe: it then imports torch
        while its caller does other work (run() restarts it for another folder, or when it died)."""
        self.close()
        command, env = _command(self.limits, [sys.executable, "-I", "-c", _SERVER, *PRELOADED], writable, server=True)
        self._server = subprocess.Popen(command, cwd=writable, env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True,
                                        preexec_fn=_die_with_parent)
        self._writable = writable
        self._buffer = b""
        self._ready = False

    def wait_ready(self, timeout: float) -> bool:
        """Wait until the started server has imported torch and PRELOADED; whether it has, within `timeout` seconds.

        Its caller can then let other work start that would compete with those imports for the CPU
        (the grading process holds the notebook's kernel back until then). False when the server is
        not running, has died or is still importing; run() then waits, or restarts it, as always.
        """
        if self._ready or self._server is None:
            return self._ready
        try:
            said = self._read_message(timeout)
        except (ConnectionError, ValueError):
            self.close()
            return False
        if said is None:
            return False
        if said != {"ready": True}:
            self.close()
            return False
        self._ready = True
        return True

    def _read_message(self, timeout: float) -> dict | None:
        """The server's next JSON line, or None when none came within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._server.stdout], [], [], remaining)[0]:
                return None
            chunk = os.read(self._server.stdout.fileno(), 65536)
            if not chunk:
                raise ConnectionError("the probe server stopped")
            self._buffer += chunk
            if len(self._buffer) > 4096:   # its messages are a few bytes: anything else is not the server
                raise ConnectionError("the probe server sent something else than its messages")
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def run(self, code: Code, probe: str, entry: str, inputs: dict, scratch: Path,
            limits: ProbeLimits | None = None) -> Outcome:
        """Like sandbox.run, in a child forked from the server (restarted if it has died)."""
        limits = limits or self.limits
        _prepare(code, probe, inputs, scratch)
        writable = scratch.parent.resolve()
        if self._server is not None and self._writable != writable:
            self.close()   # a server can write only in the folder it was started for
        if self._server is None or self._server.poll() is not None:
            self.start(writable)
        request = {"scratch": str(scratch), "entry": entry, "threads": limits.threads,
                   "memory": limits.memory_bytes, "files": limits.file_bytes,
                   "load_seconds": limits.statement_seconds}
        try:
            self._server.stdin.write((json.dumps(request) + "\n").encode())
            self._server.stdin.flush()
            if not self.wait_ready(timeout=120):   # the first request also waits for torch's import
                raise ConnectionError("the probe server did not finish its imports")
            forked = self._read_message(timeout=120)
            if forked is None:
                raise ConnectionError("the probe server did not answer")
            started = time.perf_counter()
            finished = self._read_message(timeout=limits.seconds)
            timed_out = finished is None
            if timed_out:   # stop the server and all it runs (a confined probe's pid means nothing out here)
                self.close()
            returncode = finished["status"] if finished else None
        except (ConnectionError, BrokenPipeError, ValueError, KeyError, TypeError):
            self.close()
            # Fall back to a one-shot child, in a fresh folder of the grader's own: the probe that made
            # the server fail may have left links in its scratch folder, or replaced the folder itself.
            # Beside the server's folder when the grading names their parent (a capped file system), never
            # on the machine's disk then.
            fresh = Path(tempfile.mkdtemp(prefix="probe-retry-", dir=os.environ.get(PROBES_PARENT) or None))
            try:
                return run(code, probe, entry, inputs, fresh / "scratch", limits)
            finally:
                remove_tree(fresh)
        return _outcome(scratch, returncode, timed_out, time.perf_counter() - started,
                        _tail(scratch, "output.log"), limits)


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


def _outcome(scratch: Path, returncode: int, timed_out: bool, seconds: float, output: str,
             limits: ProbeLimits) -> Outcome:
    import torch

    def make(status: str, message: str, data: dict | None = None, missing_name=None, load_failures=()) -> Outcome:
        return Outcome(status, message, data or {}, seconds, output, missing_name, list(load_failures))

    if timed_out:
        return make("timeout", f"did not finish within {limits.seconds:g} s (an endless loop, or far too slow) and was stopped")
    error_file = _open_result(scratch, "error.json")
    if error_file is not None:
        try:
            with error_file:
                error = json.loads(error_file.read(2**20))
            kind, message = str(error["kind"]), " ".join(str(error["message"])[:500].split())
            missing_name = error.get("missing_name")
            missing_name = missing_name[:200] if isinstance(missing_name, str) else None
            load_failures = [(index, " ".join(str(text)[:300].split()))
                             for index, text in error.get("load_failures", [])[:10_000] if type(index) is int]
        except Exception:   # anything the submission wrote there instead (RecursionError too)
            return make("error", "the submission wrote over the grader's error report")
        if "MemoryError" in message or "DefaultCPUAllocator: can't allocate" in message:
            return make("memory", f"ran out of memory (limit {limits.memory_bytes / 2**30:g} GiB): {message}")
        if kind == "call":
            return make("error", f"your code raised {message}", missing_name=missing_name, load_failures=load_failures)
        if kind == "save":
            return make("error", f"what your code returned could not be handed back to the grader (results are "
                                 f"limited to {limits.file_bytes / 2**20:g} MiB): {message[:200]}")
        return make("error", f"the grader could not run this check: {message}")
    result_file = _open_result(scratch, "result.pt") if returncode == 0 else None
    if result_file is not None:
        try:
            with result_file:
                problem = _unsafe_archive(result_file)
                if problem:
                    return make("error", f"the results of this check were refused: {problem}")
                result_file.seek(0)
                data = torch.load(result_file, weights_only=True)
            problem = _invalid(data) if isinstance(data, dict) else "they are not of the expected form"
        except Exception as e:   # RecursionError too: a pickle nested 200,000 deep
            return make("error", f"the results of this check could not be read safely ({type(e).__name__})")
        if problem:
            return make("error", f"the results of this check were refused: {problem}")
        return make("ok", "ran to the end", data)
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:   # a real-time signal (34 and up) has no name
            name = f"signal {-returncode}"
        return make("died", f"the process was killed by {name} before the check finished")
    return make("died", f"the process ended (exit code {returncode}) before the check finished: "
                        "does your code call sys.exit, os._exit or kill itself?")


_PLAIN = (str, int, float, bool, type(None))
# What torch.save writes and a check may use: real numbers on the CPU.
_DTYPES = ("float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool")
MAX_PICKLE_BYTES = 2**20       # the structure of a probe's results (the tensors are stored beside it)
MAX_NODES, MAX_DEPTH, MAX_STRING = 100_000, 16, 2**20


def _unsafe_archive(file) -> str:
    """Why the torch.save archive `file` must not be loaded, or "" when it may.

    torch.load also reads compressed records, so a small file can expand to gigabytes, and a large
    pickle can take minutes: only stored records are accepted, within the sizes the probe's limits allow.
    """
    try:
        with zipfile.ZipFile(file) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return "they are not a torch.save archive"
    if len(members) > 10_000:
        return f"they hold {len(members)} records"
    if any(m.compress_type != zipfile.ZIP_STORED for m in members):
        return "they hold compressed records (torch.save writes none)"
    if sum(m.file_size for m in members) > MAX_RESULT_BYTES + MAX_PICKLE_BYTES:
        return "they are larger than a probe may hand back"
    if any(m.filename.endswith("data.pkl") and m.file_size > MAX_PICKLE_BYTES for m in members):
        return "their structure is larger than any check's results"
    return ""


def _invalid(data, where: str = "the results") -> str:
    """Why `data` is not plain, honest data, or "" when it is.

    A probe's results are loaded without unpickling objects, but a tensor can still claim more than
    it holds: a zero-stride view stands for a huge tensor with 4 bytes of storage, and arithmetic on
    it would make the grader allocate the huge one. Every tensor must be a plain CPU tensor of real
    numbers, contiguous, whose storage holds all its elements, and no larger than MAX_RESULT_BYTES.
    The structure is bounded too (nodes visited, shared ones each time; depth; string length), so
    that walking it is cheap whatever the probe sent.
    """
    import torch

    budget = [MAX_NODES]

    def check(value, where: str, depth: int) -> str:
        budget[0] -= 1
        if budget[0] < 0:
            return f"the results hold more than {MAX_NODES} values"
        if depth > MAX_DEPTH:
            return f"{where} is nested more than {MAX_DEPTH} deep"
        if isinstance(value, torch.Tensor):
            return _invalid_tensor(value, where)
        if isinstance(value, dict):
            if not all(isinstance(k, str) for k in value):
                return f"{where} has keys that are not strings"
            return next((p for p in (check(v, f"{where}[{k[:40]!r}]", depth + 1) for k, v in value.items()) if p), "")
        if isinstance(value, (list, tuple)):
            return next((p for p in (check(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)) if p), "")
        if isinstance(value, str) and len(value) > MAX_STRING:
            return f"{where} is a string of {len(value)} characters"
        return "" if isinstance(value, _PLAIN) else f"{where} holds a {type(value).__name__}"

    return check(data, where, 0)


def _invalid_tensor(data: torch.Tensor, where: str) -> str:
    import torch

    if (type(data) is not torch.Tensor or data.layout != torch.strided or data.is_quantized or data.is_nested
            or data.device.type != "cpu" or str(data.dtype).removeprefix("torch.") not in _DTYPES):
        return f"{where} is not a plain tensor of real numbers on the CPU"
    size = data.numel() * data.element_size()
    if size > MAX_RESULT_BYTES:
        return f"{where} is a tensor of {size / 2**20:.0f} MiB (at most {MAX_RESULT_BYTES / 2**20:.0f} MiB)"
    if not data.is_contiguous() or data.untyped_storage().nbytes() < (data.storage_offset() * data.element_size() + size):
        return f"{where} is a tensor whose storage does not hold its {data.numel()} elements (a strided view)"
    return ""
