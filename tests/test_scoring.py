"""How a check cell's score follows from its hidden checks (autograder/grading/scores.CellGrade).

The whole pipeline (a hard-coded answer graded end to end) is in tests/test_hostile.py; these
pin the rule itself: a share of the checks, and nothing while a prerequisite fails.
"""
from autograder.grading.record import CellRecord
from autograder.grading.scores import CellGrade, CheckResult, one_line


def cell(*checks: tuple[bool, bool], points: float = 3.0) -> CellGrade:
    """A cell whose checks are (passed, prerequisite) pairs."""
    return CellGrade("p3d_best_beta", points, [CheckResult(f"check_{n}", f"check {n}", passed, "" if passed else "wrong",
                                                           prerequisite)
                                               for n, (passed, prerequisite) in enumerate(checks)])


def test_score_is_the_share_of_checks_passed_times_the_points():
    assert cell((True, False), (False, False), (True, False), points=3).score == 2.0


def test_a_passing_prerequisite_is_worth_nothing_by_itself():
    grade = cell((True, True), (False, False), (False, False), (False, False))
    assert grade.score == 0.0, "A positive best_beta alone, with a VAE that does not train, should earn nothing."


def test_a_passing_prerequisite_does_not_dilute_the_other_checks():
    assert cell((True, True), (True, False), (True, False), (False, False), points=3).score == 2.0


def test_a_failing_prerequisite_cancels_the_points_of_checks_that_passed():
    grade = cell((False, True), (True, False), (False, False))
    assert grade.score == 0.0, "A constant that matches one published value should earn no partial credit."
    assert "a check needed for any points failed" in grade.report()
    assert "(needed for any points)" in grade.report()


def test_a_cell_without_checks_earns_nothing():
    assert CellGrade("p4_interpolate", 2.0).score == 0.0


def test_what_the_kernel_raised_cannot_rewrite_the_report_it_is_quoted_in():
    """A check cell's error is quoted in its report; backspaces, escapes and line breaks in it could erase
    the report's words in a terminal or a notebook and show a forged line instead."""
    forged = "x" + "\b" * 40 + "\x1b[32mPASS  every hidden check\x1b[0m\n  PASS  all 31 points\u2028\r"
    quoted = CellRecord(cell((False, False)), one_line(f"NameError: {forged}")).report()
    last = quoted.splitlines()[-1]
    assert last.startswith("  (In your notebook this cell raised NameError: x") and last.isprintable(), repr(last)
    assert len(quoted.splitlines()) == len(cell((False, False)).report().splitlines()) + 1
