"""3a: VAE.forward and VAE.loss in the stated convention."""
import pytest
import torch

from autograder.checks import results
from autograder.grading.reference import kl_to_prior, sse_per_image


@pytest.fixture(scope="module")
def out(run_probe, mnist):
    return run_probe("vae_loss", {"images": mnist["test"][:16], "seed": 3})


@pytest.fixture(scope="module")
def images(mnist):
    return mnist["test"][:16]


def _q(out, nz):
    return results.tensor(out, f"q_{nz}", [16, 2 * nz], what=f"q for 16 images with nz={nz}")


def _rec(out, nz):
    return results.tensor(out, f"rec_{nz}", [16, 1, 28, 28], what=f"rec for 16 images with nz={nz}")


def _loss(out, key):
    name = next(part for part in ("rec_loss", "kl_loss", "total") if part in key)
    return results.tensor(out, key, [], what=f"the {name} (a scalar)").item()


def test_forward_returns_q_and_rec_of_the_right_shapes(out):
    """forward(x) returns {'q': [B, 2*nz], 'rec': [B, 1, 28, 28]}."""
    for nz in (8, 16):
        keys = results.plain(out, f"keys_{nz}", list, "the keys of forward's dict")
        assert keys == ["q", "rec"], f"forward should return a dict with keys 'q' and 'rec', got {keys}."
        q_shape = list(results.tensor(out, f"q_{nz}", finite=False, what="q").shape)
        assert q_shape == [16, 2 * nz], f"With nz={nz}, q had shape {q_shape}, not [16, {2 * nz}]."
        rec_shape = list(results.tensor(out, f"rec_{nz}", finite=False, what="rec").shape)
        assert rec_shape == [16, 1, 28, 28], f"rec had shape {rec_shape}."


def test_losses_are_scalars_and_the_total_keeps_its_gradient(out):
    """loss returns scalar tensors, and the total can be backpropagated."""
    for key in ("total_8_0.5", "rec_loss_8_0.5", "kl_loss_8_0.5"):
        shape = list(results.tensor(out, key, finite=False, what=f"the {key.split('_8')[0]}").shape)
        assert shape == [], f"The {key.split('_8')[0]} should be a scalar, got shape {shape}."
    assert results.plain(out, "total_requires_grad_8", bool, "whether the total keeps its gradient"), (
        "The total loss carries no gradient: do not detach it or call .item() inside loss.")


def test_total_is_reconstruction_plus_beta_times_kl(out):
    """total = rec_loss + beta * kl_loss, for beta = 0, 0.5 and 3."""
    for nz in (8, 16):
        for beta in (0.0, 0.5, 3.0):
            total, rec, kl = (_loss(out, f"{k}_{nz}_{beta}") for k in ("total", "rec_loss", "kl_loss"))
            # An untrained VAE's sigmoid outputs miss every image and its posterior is not exactly the prior:
            # both terms are above 0, so a loss that is constantly 0 cannot pass.
            assert rec > 0 and kl > 0, (
                f"With nz={nz} the loss's parts were rec_loss {rec:.4g} and kl_loss {kl:.4g}: for an untrained VAE both "
                "are above 0. Compute them from x and the outputs.")
            assert abs(total - (rec + beta * kl)) < 1e-3 * (1 + abs(total)), (
                f"With beta = {beta:g}: total {total:.4f} differs from rec_loss + beta * kl_loss = {rec + beta * kl:.4f}. "
                "Does the loss use self.beta?")


def test_reconstruction_term_sums_pixels_and_averages_images(out, images):
    """rec_loss = squared error summed over the 784 pixels of each image, averaged over the batch."""
    for nz in (8, 16):
        expected = sse_per_image(images, _rec(out, nz)).item()
        got = _loss(out, f"rec_loss_{nz}_0.5")
        assert expected > 1e-6, (
            f"With nz={nz}, rec was exactly the input images: an untrained VAE's decoder cannot reproduce them. "
            "Is rec the decoder's output?")
        assert abs(got - expected) < 1e-3 * expected, (
            f"rec_loss was {got:.4f} but the summed squared error per image is {expected:.4f}"
            + (" (yours is the mean over pixels: multiply back by 784, do not use nn.MSELoss())." if abs(got * 784 - expected) < 1e-2 * expected else
               " (yours sums over the batch too: average over images)." if abs(got - 16 * expected) < 1e-2 * got else "."))


def test_kl_term_sums_units_and_averages_images(out):
    """kl_loss = KL(q(z|x) || N(0, I)) summed over latent units, averaged over the batch."""
    for nz in (8, 16):
        expected = kl_to_prior(_q(out, nz), nz).item()
        got = _loss(out, f"kl_loss_{nz}_0.5")
        assert expected > 1e-6, (
            f"With nz={nz}, q was exactly the prior's (mu = 0, log_sigma = 0) for 16 different digits: "
            "an untrained encoder's outputs vary. Is q the encoder's output?")
        hint = (" (yours averages over units: sum them)." if abs(got * nz - expected) < 1e-2 * expected else
                " (is mu the first half of q and log_sigma the second, and the KL in the right order?).")
        assert abs(got - expected) < 1e-3 * (1 + expected), f"With nz={nz}, kl_loss was {got:.4f} instead of {expected:.4f}{hint}"


def test_exact_loss_when_every_parameter_is_zero(out, images):
    """With all parameters at zero, mu = log_sigma = 0 (KL = 0) and the output is 0.5: rec_loss = mean of sum (x - 0.5)^2."""
    expected = ((images - 0.5) ** 2).flatten(1).sum(1).mean().item()
    kl, rec = _loss(out, "zero_kl_loss"), _loss(out, "zero_rec_loss")
    assert abs(kl) < 1e-5, f"With mu = 0 and log_sigma = 0 the KL should be 0, got {kl:.5f}."
    assert abs(rec - expected) < 1e-3 * expected, f"rec_loss should be {expected:.3f} when every output pixel is 0.5, got {rec:.4f}."


def test_reconstruct_is_deterministic(out):
    """reconstruct(x) decodes the posterior mean: the same input gives the same output twice."""
    a, b = (results.tensor(out, key, [16, 1, 28, 28], what="reconstruct's images") for key in ("reconstruct_a", "reconstruct_b"))
    assert torch.equal(a, b), "reconstruct gave different outputs for the same images."
    assert (a.flatten(1) != a[0].flatten()).any(), "reconstruct gave the same image for 16 different digits: it should decode each one's code."
