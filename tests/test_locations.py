"""The class command grades correctly wherever the repository and its .venv live, as root and as an ordinary user.

The sandbox is an allow-list, so a repository in the grader's home folder, under /tmp or under
/srv, with its .venv inside it, must make no difference. Each case copies this working tree to
that place with a .venv inside (its packages are this environment's, through a .pth file, so
nothing is downloaded), then grades one short submission (the release with 2a and the KL
solved: 9 points) with the real command, as that user.

That submission also leaves, where its kernel and its probes may write, a folder it made
unreadable (chmod 000): an ordinary user's `rm -rf` cannot empty it, and the grader must remove
it anyway, or every student could leave their files in the grading machine's /tmp.
"""
from __future__ import annotations

import os
import pwd
import shutil
import site
import subprocess
import sys
import tempfile
from pathlib import Path
from string import Template

import nbformat
import pytest

from assignment.paths import mnist_root
from autograder.sandbox.policy import available
from tests.hostile import attacks as A
from tests.test_hostile import copy_repository, load_reports

GRADER = "vae-grader"   # the ordinary user .ci/run creates (useradd)
# Run in the kernel (its sockets folder, named by `-f` on its command line) and in every probe (its folder).
LOCK_UP = """import os, sys
where = os.path.dirname(sys.argv[sys.argv.index("-f") + 1]) if "-f" in sys.argv else os.getcwd()
locked = os.path.join(where, "$name")
os.makedirs(os.path.join(locked, "inner"), exist_ok=True)
with open(os.path.join(locked, "inner", "kept.txt"), "w") as f:
    f.write("left behind")
os.chmod(os.path.join(locked, "inner"), 0)
os.chmod(locked, 0o500)
"""

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not available(), reason="bubblewrap cannot run here (autograder/sandbox/policy.py)")]


def _user(name: str | None) -> pwd.struct_passwd:
    return pwd.getpwuid(os.getuid()) if name is None else pwd.getpwnam(name)


def _base_python(user: pwd.struct_passwd) -> str:
    """A Python this user may run, of this interpreter's version (its packages are shared through a .pth file)."""
    if user.pw_uid == os.getuid():
        return sys._base_executable
    system = shutil.which("python3", path="/usr/bin:/bin")
    version = subprocess.run([system, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True,
                             text=True).stdout.strip() if system else ""
    if version != str(sys.version_info[:2]):
        pytest.skip(f"no system Python {sys.version_info[:2]} for the ordinary user (found {version or 'none'})")
    return system


CASES = [("root's home folder", None, "home"), ("/tmp", None, "/tmp"), ("/srv", None, "/srv"),
         ("an ordinary user's home folder", GRADER, "home"), ("/tmp, as an ordinary user", GRADER, "/tmp")]


@pytest.mark.parametrize("where, user_name, parent", CASES, ids=[c[0] for c in CASES])
def test_the_class_command_grades_wherever_the_repository_lives(where, user_name, parent):
    if user_name is not None:
        if os.getuid() != 0:
            pytest.skip("switching to an ordinary user needs root")
        try:
            pwd.getpwnam(user_name)
        except KeyError:
            pytest.skip(f"no user {user_name}: `useradd --create-home {user_name}` (.ci/run does)")
    elif os.getuid() != 0 and parent == "/srv":
        pytest.skip("/srv is root's")
    user = _user(user_name)
    base = Path(user.pw_dir if parent == "home" else parent)
    base.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="vae-location-", dir=base))
    try:
        repo = copy_repository(root / "repo")
        subprocess.run([_base_python(user), "-m", "venv", "--without-pip", str(repo / ".venv")], check=True)
        packages = next((repo / ".venv" / "lib").glob("python3*/site-packages"))
        (packages / "grading-environment.pth").write_text(site.getsitepackages()[0] + "\n")
        alembic = repo / ".venv" / "bin" / "alembic"   # nbgrader starts it; pip would have written it
        alembic.write_text(f"#!{repo / '.venv' / 'bin' / 'python'}\nfrom alembic.config import main\nmain()\n")
        alembic.chmod(0o755)
        downloads = root / "downloads"
        downloads.mkdir()
        locked = f"locked-{root.name}"   # one name per case: another case may be grading meanwhile
        submission = A.solved(A.PARTIAL_SOLVED)
        A.at_import(Template(LOCK_UP).substitute(name=locked))(submission)
        nbformat.write(submission, str(downloads / "ada_vae.ipynb"))
        if user.pw_uid != os.getuid():
            subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(root)], check=True)

        def become_user():
            if user.pw_uid != os.getuid():
                os.setgroups([])
                os.setgid(user.pw_gid)
                os.setuid(user.pw_uid)
        python = repo / ".venv" / "bin" / "python"
        env = {"PATH": f"{python.parent}:/usr/bin:/bin", "HOME": user.pw_dir, "LANG": "C.UTF-8",
               "MNIST_ROOT": str(mnist_root())}
        result = subprocess.run([str(python), "-m", "autograder", "--course", str(root / "course"), "grade",
                                 str(downloads), "--workers", "1", "--no-feedback"], cwd=repo, env=env,
                                capture_output=True, text=True, timeout=900, preexec_fn=become_user)
        assert result.returncode == 0, f"Grading in {where} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        report = load_reports(root / "course")["ada"]
        assert report["status"] == "graded", f"In {where}, ada was not graded: {report['reason']}"
        assert report["scores"] == A.PARTIAL_SCORES, f"In {where}, ada got {report['scores']}, not {A.PARTIAL_SCORES}"
        assert "WARNING" not in result.stdout, result.stdout
        left = [str(p) for pattern in (f"vae-sockets-*/*/{locked}", f"vae-class-*/**/{locked}")
                for p in Path(tempfile.gettempdir()).glob(pattern)]
        assert not left, f"In {where}, the folders the submission made unreadable were left behind: {left}"
    finally:
        shutil.rmtree(root, ignore_errors=True)
