"""3d: the student's best_beta, trained briefly by the grader, lands in the useful regime."""
import math

import pytest
import torch

from autograder.checks import regimes as R
from autograder.checks import results
from autograder.grading.extract import printed_number


# The search (3d): at least this many values of beta, the largest at least this many times the smallest.
SEARCH_MIN_CANDIDATES, SEARCH_MIN_SPAN = 3, 100.0


@pytest.fixture(scope="module")
def probed(run_probe):
    return run_probe("best_beta", {})


@pytest.fixture(scope="module")
def beta(probed, submission):
    """best_beta as the notebook gives it: by the code the grader runs, or, when it is computed from the
    trained models of the search (which the grader does not retrain), as the student's own run printed it."""
    left_out = submission["left_out"].get("best_beta")   # its last definition is left out: a placeholder may remain
    if left_out or not results.plain(probed, "defined", bool, "whether best_beta is defined"):
        printed = submission["printed_best_beta"]
        value = printed_number(printed)
        where = (f"best_beta is computed by a statement the autograder does not run ({left_out['cell']}, line "
                 f"{left_out['line']}: {left_out['reason']})" if left_out else "best_beta is not defined by your code")
        assert printed is not None, (
            f"{where}, and the notebook you submitted has no output of Check 3d showing its value. Run the whole "
            f"notebook (Restart and run all) and submit it with its outputs, or set best_beta to a number.")
        assert value is not None, f"{where}, and Check 3d in your notebook printed best_beta = {printed}, not a number."
    else:
        kind = results.plain(probed, "type", str, "the type of best_beta")
        assert results.plain(probed, "is_number", bool, "whether best_beta is a number"), (
            f"best_beta should be a number set after tuning, got a {kind}.")
        value = results.plain(probed, "value", float, "the value of best_beta")
    assert math.isfinite(value) and 0 < value <= 1000, f"best_beta should be a positive number, got {value:g}."
    return value


@pytest.fixture(scope="module")
def tuned(run_probe, mnist, beta):
    return R.measure(run_probe, mnist["train"], mnist["test"], beta, R.ITERATIONS["tuned"], network=R.NETWORK["tuned"])


@pytest.mark.prerequisite
def test_best_beta_is_a_positive_number(beta):
    """best_beta is a positive number (worth nothing alone: the points are for what it does to your VAE)."""


def test_tuned_vae_keeps_a_moderate_kl(tuned, beta):
    """With best_beta the KL stays in a middle band: neither collapsed nor unbounded."""
    low, high = R.TUNED_KL_RANGE
    assert low < tuned["kl"] < high, (
        f"With best_beta = {beta:g} the KL was {tuned['kl']:.2f} nats per image; a useful VAE keeps it between {low:g} and {high:g}. "
        + ("The posterior collapsed: try a smaller beta." if tuned["kl"] <= low else "The code ignores the prior: try a larger beta."))


def test_tuned_vae_uses_several_latent_units(tuned, beta):
    """With best_beta several latent units carry information."""
    assert tuned["active"] >= R.TUNED_MIN_ACTIVE_UNITS, f"With best_beta = {beta:g} only {tuned['active']} latent units were active."


def test_tuned_vae_reconstructs_better_than_a_collapsed_one(tuned, beta):
    """With best_beta, after brief training, reconstructions are well ahead of a collapsed VAE's."""
    assert tuned["rec_ratio"] < R.TUNED_MAX_REC_RATIO, (
        f"With best_beta = {beta:g} the reconstruction error was {tuned['rec_ratio']:.0%} of the mean image's; expected below "
        f"{R.TUNED_MAX_REC_RATIO:.0%} (a collapsed VAE scores 140% or more after the same training): try a smaller beta.")


@pytest.mark.prerequisite   # the grid is read where the student's code ran: a claim, so it can only cost points
def test_the_search_spans_a_hundredfold_and_holds_best_beta(probed, submission, beta):
    """BETA_CANDIDATES holds at least 3 values of beta spanning at least 100x, and best_beta is one of them (needed for any points)."""
    left_out = submission["left_out"].get("BETA_CANDIDATES")
    if left_out:
        results.fail(f"BETA_CANDIDATES is defined by a statement the autograder does not run ({left_out['cell']}, line "
                     f"{left_out['line']}: {left_out['reason']}): write the grid as a list of numbers in a statement "
                     "of its own.")
    assert results.plain(probed, "grid_defined", bool, "whether BETA_CANDIDATES is defined"), (
        "BETA_CANDIDATES is not defined: keep the grid of your search in it (3d).")
    assert results.plain(probed, "grid_is_numbers", bool, "whether BETA_CANDIDATES holds numbers"), (
        "BETA_CANDIDATES should hold numbers (a list, a tuple, an array...): the values of beta your search trained.")
    grid = probed.get("grid")   # float64, as the probe made it (results.tensor would round it to float32)
    if not isinstance(grid, torch.Tensor) or grid.dtype != torch.float64 or grid.dim() != 1:
        results.fail("BETA_CANDIDATES came back in a form the grader does not accept.")
    values = sorted({b for b in grid.tolist() if math.isfinite(b) and b > 0})
    assert len(values) >= SEARCH_MIN_CANDIDATES, (
        f"The search tried {len(values)} positive value{'s' if len(values) != 1 else ''} of beta ({values}): train at least "
        f"{SEARCH_MIN_CANDIDATES}, so that the choice compares a beta with its neighbours.")
    assert values[-1] >= SEARCH_MIN_SPAN * values[0] * (1 - 1e-9), (
        f"The search spans beta from {values[0]:g} to {values[-1]:g}, {values[-1] / values[0]:.3g}x: a search of the "
        f"scale of beta should span at least {SEARCH_MIN_SPAN:g}x (the grid given spans 1000x).")
    assert any(math.isclose(beta, b, rel_tol=1e-6) for b in values), (
        f"best_beta = {beta:g} is not one of BETA_CANDIDATES ({values}): choose a beta you trained and looked at, "
        "or add it to the grid.")
