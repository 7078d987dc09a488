"""3a: kl_divergence(mu1, log_sigma1, mu2, log_sigma2), elementwise KL(N1 || N2)."""
import math

import pytest
import torch

from autograder.checks import results
from autograder.grading.reference import kl_normal

_g = torch.Generator().manual_seed(31)
CASES = {
    "wide_vs_unit": (torch.zeros(3), torch.ones(3), torch.zeros(3), torch.zeros(3)),       # 2.194528
    "unit_vs_wide": (torch.zeros(3), torch.zeros(3), torch.zeros(3), torch.ones(3)),       # 0.567668
    "shifted": (torch.full((3,), 2.0), torch.zeros(3), torch.zeros(3), torch.zeros(3)),    # 2
    "identical": (torch.full((3,), 0.7), torch.full((3,), -0.3), torch.full((3,), 0.7), torch.full((3,), -0.3)),
    "random": tuple(torch.randn(4, 5, generator=_g) for _ in range(4)),
}


@pytest.fixture(scope="module")
def out(run_probe):
    return run_probe("kl", {"cases": CASES})


def _values(out, name):
    shape = list(CASES[name][0].shape)
    value = results.tensor(out, name, finite=False, what=f"the KL of the case {name!r}")
    assert list(value.shape) == shape, f"kl_divergence should work elementwise: inputs of shape {shape} gave {list(value.shape)}."
    return results.tensor(out, name, shape, what=f"kl_divergence's value on inputs of shape {shape}")


@pytest.mark.prerequisite
def test_kl_is_computed_from_its_inputs(out):
    """Different pairs of Gaussians give different KL values (a constant earns no partial credit)."""
    value = _values(out, "random")
    assert value.max() - value.min() > 1e-3, (
        f"kl_divergence gave {value.flatten()[0]:.6f} for all {value.numel()} different pairs of Gaussians: "
        "it must compute the KL from mu1, log_sigma1, mu2 and log_sigma2, not return fixed values.")


def test_kl_of_a_wide_gaussian_from_the_unit_gaussian(out):
    """KL(N(0, e^2) || N(0, 1)) = (e^2 - 1)/2 - 1 = 2.194528."""
    value = _values(out, "wide_vs_unit")
    assert torch.allclose(value, torch.full((3,), (math.e ** 2 - 1) / 2 - 1), atol=1e-5), (
        f"KL(N(0, e^2) || N(0, 1)) should be 2.194528, got {value[0]:.6f}."
        + (" That is the KL in the other order: KL is not symmetric." if abs(value[0] - 0.567668) < 1e-3 else ""))


def test_kl_is_not_symmetric(out):
    """KL(N(0, 1) || N(0, e^2)) = 1 + 1/(2e^2) - 1/2 = 0.567668, not the reverse order's value."""
    value = _values(out, "unit_vs_wide")
    assert torch.allclose(value, torch.full((3,), 0.5 + 0.5 / math.e ** 2), atol=1e-5), (
        f"KL(N(0, 1) || N(0, e^2)) should be 0.567668, got {value[0]:.6f}."
        + (" The two distributions are swapped." if abs(value[0] - 2.194528) < 1e-3 else ""))


def test_kl_of_a_shifted_mean(out):
    """KL(N(2, 1) || N(0, 1)) = 2."""
    value = _values(out, "shifted")
    assert torch.allclose(value, torch.full((3,), 2.0), atol=1e-5), (
        f"KL(N(2, 1) || N(0, 1)) should be 2, got {value[0]:.6f}: check the 1/2 in front of (mu1 - mu2)^2 / sigma2^2.")


def test_kl_of_identical_gaussians_is_zero(out):
    """KL(N || N) = 0 for any Gaussian."""
    value = _values(out, "identical")
    assert torch.allclose(value, torch.zeros(3), atol=1e-6), f"KL of two identical Gaussians should be 0, got {value[0]:.6f}."


def test_kl_agrees_with_torch_distributions_on_random_inputs(out):
    """On random means and log standard deviations, the values match torch.distributions.kl_divergence."""
    value = _values(out, "random")
    expected = kl_normal(*CASES["random"])
    worst = (value - expected).abs().max().item()
    assert worst < 1e-4 * (1 + expected.abs().max().item()), (
        f"On random inputs your KL differs from torch.distributions.kl_divergence by up to {worst:.4f}. "
        "Are log_sigma values used as log standard deviations (not variances, not sigmas)?")
    grad = results.tensor(out, "grad_mu1", finite=False, what="the gradient of the KL with respect to mu1")
    mu1, _, mu2, log_sigma2 = CASES["random"]
    expected_grad = (mu1 - mu2) * torch.exp(-2 * log_sigma2)   # d KL / d mu1 = (mu1 - mu2) / sigma2^2
    assert grad.shape == value.shape and torch.isfinite(grad).all() and grad.abs().sum() > 0, (
        "Gradients do not flow through kl_divergence.")
    assert torch.allclose(grad, expected_grad, rtol=1e-3, atol=1e-4), (
        "The gradient of your KL with respect to mu1 is not (mu1 - mu2) / sigma2^2: is a part of it detached or computed without torch?")
