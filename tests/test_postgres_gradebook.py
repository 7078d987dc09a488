"""Several graders at once on one PostgreSQL gradebook (`--db-url`): each student lands once, right.

A throwaway PostgreSQL 15 cluster (Debian's server, listening on a unix socket only) is started for
the module. Two graders, each with a course folder of its own, grade different students at the same
time into the shared gradebook, as two TAs on two machines would.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import nbformat
import pytest

from autograder.devtools.demo_class import SPECS, load_spec, student_notebook
from assignment.paths import RELEASE_NOTEBOOK
from autograder.course import Course, prepare
from autograder.staff.export import export_scores
from autograder.workflow.grade_class import grade_class

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres(*command: str) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True)


@pytest.fixture(scope="module")
def db_url():
    if not (PG_BIN / "initdb").exists() or shutil.which("runuser") is None:
        pytest.skip("needs Debian's postgresql-15 server and runuser (apt-get install postgresql)")
    data = Path(tempfile.mkdtemp(prefix="vae-pg-"))   # pytest's folders are private to root; the server runs as postgres
    shutil.chown(data, "postgres", "postgres")
    try:
        _as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "grader")
    except (subprocess.CalledProcessError, LookupError) as e:
        pytest.skip(f"cannot initialise a PostgreSQL cluster here ({e})")
    _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", "-l", str(data / "server.log"),
                 "-o", f"-k {data} -c listen_addresses='' -p 54329", "start")
    _as_postgres(str(PG_BIN / "createdb"), "-h", str(data), "-p", "54329", "-U", "grader", "vae")
    yield f"postgresql+psycopg://grader@/vae?host={data}&port=54329"
    _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
    shutil.rmtree(data, ignore_errors=True)


def test_two_graders_at_once_share_one_postgres_gradebook(db_url, tmp_path):
    carol, bob = tmp_path / "downloads-a", tmp_path / "downloads-b"
    carol.mkdir(), bob.mkdir()
    nbformat.write(student_notebook(load_spec(SPECS / "carol_partial.py")["CELLS"]), str(carol / "carol_vae.ipynb"))
    shutil.copyfile(RELEASE_NOTEBOOK, bob / "bob_vae.ipynb")
    first, second = Course(tmp_path / "grader-a", db_url), Course(tmp_path / "grader-b", db_url)
    prepare(first)   # the assignment is recorded once; both graders then work at the same time
    results = {}

    def grader(name, downloads, course):
        try:
            results[name] = grade_class(downloads, course, workers=1, progress=False)
        except Exception as e:   # said below, in the test's failure
            results[name] = e

    threads = [threading.Thread(target=grader, args=("a", carol, first)),
               threading.Thread(target=grader, args=("b", bob, second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    crashed = {name: repr(r) for name, r in results.items() if isinstance(r, Exception)}
    assert not crashed, f"a grader crashed: {crashed}"
    assert results["a"].students["carol"].total == 17, results["a"].students["carol"]
    assert results["b"].students["bob"].total == 0
    rows = export_scores(first, tmp_path / "scores.csv").read_text().splitlines()
    by_student = {row.split(",")[0]: row for row in rows[1:]}
    assert sorted(by_student) == ["bob", "carol"], "both graders' students should be in the shared gradebook"
