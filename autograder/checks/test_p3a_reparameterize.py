"""3a: VAE.reparameterize draws z = mu + exp(log_sigma) * epsilon."""
import math

import pytest
import torch

from autograder.checks import results

N = 20000
CASES = {
    "std2": (torch.zeros(N, 1), torch.full((N, 1), math.log(2.0))),
    "shifted": (torch.full((N, 1), 3.0), torch.full((N, 1), -1.0)),
}


@pytest.fixture(scope="module")
def out(run_probe):
    return run_probe("reparameterize", {"cases": CASES, "seed": 5})


def _samples(out, name):
    return results.tensor(out, name, [N, 1], what=f"reparameterize's samples for mu and log_sigma of shape [{N}, 1]")


def test_samples_have_mean_mu(out):
    """The samples average to mu."""
    for name, expected in (("std2", 0.0), ("shifted", 3.0)):
        mean = _samples(out, name).mean().item()
        # 20,000 samples: the standard error of the mean is at most 0.014.
        assert abs(mean - expected) < 0.07, f"With mu = {expected:g} the samples averaged {mean:.3f}."


def test_samples_have_standard_deviation_exp_log_sigma(out):
    """The samples' standard deviation is sigma = exp(log_sigma)."""
    for name, expected in (("std2", 2.0), ("shifted", math.exp(-1))):
        std = _samples(out, name).std().item()
        hint = " It looks like log_sigma was used as sigma." if abs(std - abs(math.log(expected))) < 0.05 else ""
        assert abs(std - expected) < 0.05 * expected + 0.02, (
            f"With log_sigma = {math.log(expected):.3f} the samples should have std {expected:.3f}, got {std:.3f}."
            + (" Is z = mu (no noise)?" if std < 1e-6 else hint))


def test_gradients_reach_mu_and_log_sigma(out):
    """Gradients flow to mu (dz/dmu = 1) and to log_sigma (dz/dlog_sigma = sigma * epsilon)."""
    grad_mu = results.tensor(out, "grad_mu", finite=False, what="the gradient with respect to mu")
    assert grad_mu.shape == (6, 3) and torch.allclose(grad_mu, torch.ones(6, 3)), (
        "The gradient of z with respect to mu should be 1 everywhere: do not detach mu.")
    # With mu = 0 and log_sigma = 0, z is epsilon itself: 18 draws of N(0, 1), and dz/dlog_sigma = z.
    z = results.tensor(out, "z_for_grad", [6, 3], what="z for mu = log_sigma = 0 of shape [6, 3]")
    assert z.std() > 0.3, f"With mu = 0 and log_sigma = 0, z should be standard normal noise, but its values spread only {z.std():.3f}."
    grad_log_sigma = results.tensor(out, "grad_log_sigma", finite=False, what="the gradient with respect to log_sigma")
    assert grad_log_sigma.shape == (6, 3) and torch.allclose(grad_log_sigma, z, atol=1e-5), (
        "The gradient with respect to log_sigma should be sigma * epsilon: compute z = mu + exp(log_sigma) * epsilon "
        "without detaching.")


def test_every_element_gets_its_own_noise(out):
    """Identical rows of mu and log_sigma get different samples (one epsilon per element, not per batch)."""
    rows = results.tensor(out, "same_rows", [8, 5], what="reparameterize's samples for zeros of shape [8, 5]")
    assert len(torch.unique(rows, dim=0)) == len(rows), "Identical inputs in one batch got the same z: draw epsilon with the full shape of mu."
    assert len(torch.unique(rows[0])) == rows.shape[1], "The units of one row share their noise: draw epsilon for every element."
