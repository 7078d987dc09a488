"""The hidden checks give every correct variant full marks and catch every known bug on its part.

Each variant's definitions are appended to the last solution cell of a copy of the reference
notebook, and the notebook is graded by the same code nbgrader's preprocessor calls. Each variant
is graded once, as many at a time as there are cores (one torch thread each), while the tests
read the results in order.
"""
from __future__ import annotations

import os
import re
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from autograder.grading.run_checks import grade_notebook

from tests.variants import MARKER, variant_notebook

CORPUS = Path(__file__).parent / "submissions"
# The student-style variants (cell markers) are graded through nbgrader by tests/test_fairness.py.
CORRECT = sorted(path for path in (CORPUS / "correct").glob("*.py") if not MARKER.search(path.read_text()))
WRONG = sorted((CORPUS / "wrong").glob("*.py"))


def must_lose(variant: Path) -> set[str]:
    found = re.search(r"^loses: (.+)$", variant.read_text(), re.M)
    assert found, f"{variant.name} should name the grade ids it must lose points on ('loses: ...')"
    return set(found.group(1).split())


def must_keep(variant: Path) -> set[str]:
    """The grade ids a wrong variant must still get full marks on ('keeps: ...'): its error is graded elsewhere."""
    found = re.search(r"^keeps: (.+)$", variant.read_text(), re.M)
    return set(found.group(1).split()) if found else set()


@pytest.fixture(scope="module")
def graded(request, source_nb) -> dict[str, Future]:
    """The grades of every variant this run's tests ask for, by path, graded in the background."""
    selected = [item.callspec.params["variant"] for item in request.session.items
                if item.module is request.module and hasattr(item, "callspec")]
    pool = ThreadPoolExecutor(max_workers=len(os.sched_getaffinity(0)))
    futures = {}
    for variant in selected:
        only = must_lose(variant) | must_keep(variant) if variant in WRONG else None   # only the checks that matter
        futures[str(variant)] = pool.submit(grade_notebook, variant_notebook(source_nb, variant), grade_ids=only)
    yield futures
    pool.shutdown(cancel_futures=True)


def test_the_corpus_has_at_least_ten_variants_of_each_kind():
    assert len(CORRECT) >= 10 and len(WRONG) >= 10


@pytest.mark.parametrize("variant", CORRECT, ids=lambda p: p.stem)
def test_correct_variant_gets_full_marks(variant, graded):
    grades = graded[str(variant)].result()
    lost = [grade.report() for grade in grades.values() if grade.score < grade.points]
    assert not lost, f"{variant.stem} is correct but lost points:\n" + "\n".join(lost)


@pytest.mark.parametrize("variant", WRONG, ids=lambda p: p.stem)
def test_wrong_variant_loses_points_on_its_part_with_a_reason(variant, graded):
    lose, keep = must_lose(variant), must_keep(variant)
    grades = graded[str(variant)].result()
    for grade_id in sorted(keep):
        assert grades[grade_id].score == grades[grade_id].points, (
            f"{variant.stem} is right in {grade_id} and should keep its points there:\n{grades[grade_id].report()}")
    for grade_id in sorted(lose):
        grade = grades[grade_id]
        assert grade.score < grade.points, f"{variant.stem} should lose points on {grade_id}:\n{grade.report()}"
        failed = [check for check in grade.checks if not check.passed]
        assert all(check.message and check.message != "this check failed" for check in failed), (
            f"Every failed check of {grade_id} should say what was wrong:\n{grade.report()}")
