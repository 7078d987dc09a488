"""3b: train_vae, and what the student's VAE does at beta = 0 and beta = 10.

The beta runs train the student's VAE (reparameterisation, KL, loss) on the reference encoder
and decoder, in the grader's own seeded loop on a fixed subset of MNIST: they measure the
objective, the architecture is graded in 2a, and train_vae is checked on its own.
"""
import pytest
import torch

from autograder.checks import regimes as R

EPOCHS, BATCHES = 2, 8


@pytest.fixture(scope="module")
def loop(run_probe, mnist):
    return run_probe("train_vae", {"images": mnist["train"][:512], "nz": 16, "beta": 1.0, "epochs": EPOCHS,
                                   "lr": 1e-3, "batch_size": 64, "seed": 9}, seconds=60)


@pytest.fixture(scope="module")
def beta0(run_probe, mnist):
    return R.measure_beta0(run_probe, mnist["train"], mnist["test"])


@pytest.fixture(scope="module")
def beta10(run_probe, mnist):
    return R.measure(run_probe, mnist["train"], mnist["test"], 10.0, R.ITERATIONS["beta10"])


def test_returns_the_three_histories_as_python_floats(loop):
    """train_vae returns {'loss', 'rec_loss', 'kl_loss'}, each a list of one Python float per iteration."""
    assert loop["type"] == "dict" and loop["keys"] == ["kl_loss", "loss", "rec_loss"], (
        f"train_vae returned a {loop['type']} with keys {loop['keys']}; expected a dict with 'loss', 'rec_loss', 'kl_loss'.")
    for key in ("loss", "rec_loss", "kl_loss"):
        assert loop[f"item_types_{key}"] == ["float"], f"'{key}' holds {loop[f'item_types_{key}']}: append .item()."
        assert len(loop[f"values_{key}"]) == EPOCHS * BATCHES, f"'{key}' has {len(loop[f'values_{key}'])} values, not {EPOCHS * BATCHES}."


def test_history_total_is_reconstruction_plus_beta_times_kl(loop):
    """Each logged total equals rec_loss + beta * kl_loss (beta = 1 here)."""
    total, rec, kl = loop["values_loss"], loop["values_rec_loss"], loop["values_kl_loss"]
    assert torch.allclose(total, rec + kl, rtol=1e-3, atol=1e-3), "The logged 'loss' is not rec_loss + beta * kl_loss."


def test_training_lowers_the_loss_and_updates_every_parameter(loop):
    """The total loss falls on a fixed subset, and every parameter changes."""
    total = loop["values_loss"]
    assert total[-3:].mean() < R.LOOP_MAX_END_START_RATIO * total[:3].mean(), f"The loss went from {total[:3].mean():.1f} to {total[-3:].mean():.1f}."
    assert not loop["unchanged_params"], f"These parameters never changed: {', '.join(loop['unchanged_params'][:5])}."


def _runs(beta0: dict) -> str:
    return f"At beta = 0 (in the last of {beta0['attempts']} seeded training runs) "


def test_beta0_kl_grows_large(beta0):
    """At beta = 0 nothing holds the posterior to the prior: the KL grows large."""
    assert beta0["kl"] > R.BETA0_MIN_KL, f"{_runs(beta0)}the KL was {beta0['kl']:.1f} nats per image; expected more than {R.BETA0_MIN_KL:g}."


def test_beta0_posterior_sigma_shrinks(beta0):
    """At beta = 0 the posterior's sigma shrinks well below the prior's 1."""
    assert beta0["sigma"] < R.BETA0_MAX_SIGMA, (
        f"{_runs(beta0)}the mean posterior sigma was {beta0['sigma']:.2f}; expected below {R.BETA0_MAX_SIGMA}. "
        "Is sigma = exp(log_sigma) used as the noise scale?")


def test_beta0_reconstructions_are_far_better_than_the_mean_image(beta0):
    """At beta = 0 reconstructions are sharp: far below the error of predicting the mean image."""
    assert beta0["rec_ratio"] < R.BETA0_MAX_REC_RATIO, (
        f"{_runs(beta0)}the reconstruction error was {beta0['rec_ratio']:.0%} of the mean image's; expected below {R.BETA0_MAX_REC_RATIO:.0%}.")


def test_beta10_posterior_collapses(beta10):
    """At beta = 10 the posterior collapses to the prior: KL near 0 and no active units."""
    assert beta10["kl"] < R.BETA10_MAX_KL, f"At beta = 10 the KL was {beta10['kl']:.2f} nats; a collapsed posterior has less than {R.BETA10_MAX_KL}."
    assert beta10["active"] <= R.BETA10_MAX_ACTIVE_UNITS, f"At beta = 10, {beta10['active']} latent units were still active."


def test_beta10_reconstructions_are_no_better_than_the_mean_image(beta10):
    """At beta = 10 every output is about the same image: reconstruction error at the mean image's level."""
    assert beta10["rec_ratio"] > R.BETA10_MIN_REC_RATIO, (
        f"At beta = 10 the reconstruction error was only {beta10['rec_ratio']:.0%} of the mean image's: the code still carries "
        "information, so the KL is not doing its job. Does reparameterize sample with noise, and is sigma = exp(log_sigma)?")


def test_beta10_prior_samples_are_nearly_identical(beta10):
    """At beta = 10 the decoder ignores z: samples from the prior all look the same."""
    assert beta10["sample_std"] < R.BETA10_MAX_SAMPLE_STD, (
        f"At beta = 10 prior samples still vary (pixel std {beta10['sample_std']:.3f}).")
