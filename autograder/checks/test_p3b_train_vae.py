"""3b: train_vae, and what the student's VAE does at beta = 0 and beta = 10.

The beta runs train the student's VAE (reparameterisation, KL and loss) on the reference encoder
and decoder, in the grader's own seeded loop on a fixed subset of MNIST: they measure the
objective, the architecture is graded in 2a, and train_vae is checked on its own (on
networks.ReferenceVAE, so that only the loop is judged). Every probe hands back trained weights; the grader loads them into its
own reference networks and measures everything it judges itself (regimes.py).
"""
import pytest
import torch

from autograder.checks import regimes as R
from autograder.checks import results

SETTINGS = R.VAE_LOOP
EPOCHS, BATCHES = SETTINGS["epochs"], R.LOOP_IMAGES // SETTINGS["batch_size"]
HISTORIES = ("loss", "rec_loss", "kl_loss")


@pytest.fixture(scope="module")
def loop(run_probe, mnist):
    return run_probe("train_vae", {"images": mnist["train"][:R.LOOP_IMAGES], **SETTINGS}, seconds=60)


@pytest.fixture(scope="module")
def trained(loop, mnist):
    """The grader's measurements of the returned weights (regimes.measure_loop)."""
    return R.measure_loop("vae", loop, mnist["train"], SETTINGS)


@pytest.fixture(scope="module")
def beta0(run_probe, mnist):
    return R.measure_beta0(run_probe, mnist["train"], mnist["test"])


@pytest.fixture(scope="module")
def beta10(run_probe, mnist):
    return R.measure(run_probe, mnist["train"], mnist["test"], 10.0, R.ITERATIONS["beta10"], network=R.NETWORK["beta10"])


def _history(loop: dict, key: str) -> torch.Tensor:
    return results.tensor(loop, f"values_{key}", [EPOCHS * BATCHES], finite=False, what=f"the history '{key}'")


def test_returns_the_three_histories_as_python_floats(loop, trained):
    """train_vae returns {'loss', 'rec_loss', 'kl_loss'}, each a list of one Python float per iteration, logged as the model trains."""
    kind, keys = results.plain(loop, "type", str, "the type of the result"), results.plain(loop, "keys", list, "the history's keys")
    assert kind == "dict" and keys == ["kl_loss", "loss", "rec_loss"], (
        f"train_vae returned a {kind} with keys {keys}; expected a dict with 'loss', 'rec_loss', 'kl_loss'.")
    for key in HISTORIES:
        items = results.plain(loop, f"item_types_{key}", list, f"the types in '{key}'")
        assert items == ["float"], f"'{key}' holds {items}: append .item()."
        values = results.tensor(loop, f"values_{key}", finite=False, what=f"the history '{key}'")
        assert len(values) == EPOCHS * BATCHES, f"'{key}' has {len(values)} values, not {EPOCHS * BATCHES}."
    # Scale-free: the logged total must move as the returned weights say the VAE's loss did.
    total, low, high = _history(loop, "loss"), *R.VAE_LOGGED_CURVE_BAND
    curve = R.logged_curve(total, trained)
    assert low < curve < high, (
        f"From the first iteration to the last your logged 'loss' changed by a factor {float(total[-1] / total[0]):.2f}, "
        f"but the loss of the model your loop returned changed by {trained['last_batch'] / trained['first_batch']:.2f} "
        "on those batches: log the loss of each batch, computed on the model being trained.")


def test_history_total_is_reconstruction_plus_beta_times_kl(loop):
    """Each logged total equals rec_loss + beta * kl_loss (beta = 1 here), all of them real, positive losses."""
    total, rec, kl = (_history(loop, key) for key in HISTORIES)
    assert torch.isfinite(total).all() and torch.isfinite(rec).all() and torch.isfinite(kl).all(), (
        "The history holds NaN or infinite values: training diverged, or a loss divides by zero.")
    # A squared error of sigmoid outputs is above 0, and so is the KL of a posterior that is not exactly the prior.
    assert (rec > 0).all() and (kl > -1e-4).all() and (total > 0).all(), (
        f"The history logs values no real loss takes (rec_loss from {rec.min():.3g}, kl_loss from {kl.min():.3g}): "
        "append the losses of each batch, total.item(), parts['rec_loss'].item() and parts['kl_loss'].item().")
    assert torch.allclose(total, rec + kl, rtol=1e-3, atol=1e-3), "The logged 'loss' is not rec_loss + beta * kl_loss."


def test_training_lowers_the_loss_and_updates_every_parameter(trained):
    """The loss falls on a fixed subset, and every parameter changes (measured by the grader on the returned weights)."""
    before, after = trained["before"], trained["after"]
    assert after < R.VAE_LOOP_MAX_RATIO * before, (
        f"With the weights your loop returned, the VAE's loss on the training images (its posterior mean decoded, plus the KL) "
        f"went from {before:.1f} to {after:.1f}: it should fall clearly. Is the optimiser stepping, on the model it was given?")
    assert not trained["unchanged"], f"These parameters never changed: {', '.join(trained['unchanged'][:5])}."


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
    low, high = R.BETA10_REC_RATIO_RANGE
    assert beta10["rec_ratio"] > low, (
        f"At beta = 10 the reconstruction error was only {beta10['rec_ratio']:.0%} of the mean image's: the code still carries "
        "information, so the KL is not doing its job. Does reparameterize sample with noise, and is sigma = exp(log_sigma)?")
    assert beta10["rec_ratio"] < high, (
        f"At beta = 10 the reconstruction error was {beta10['rec_ratio']:.0%} of the mean image's: a collapsed VAE still "
        f"outputs about the average digit (below {high:.0%}), yours learnt nothing. Does the loss reach the decoder?")


def test_beta10_prior_samples_are_nearly_identical(beta10):
    """At beta = 10 the decoder ignores z: samples from the prior all look the same, about the average digit."""
    assert beta10["sample_std"] < R.BETA10_MAX_SAMPLE_STD, (
        f"At beta = 10 prior samples still vary (pixel std {beta10['sample_std']:.3f}).")
    assert beta10["sample_mean_error"] < R.BETA10_MAX_SAMPLE_MEAN_ERROR, (
        f"At beta = 10 prior samples all look the same but not like the average digit (their squared distance from the "
        f"mean image is {beta10['sample_mean_error']:.0%} of its squared norm): the decoder learnt nothing. "
        "Does the loss reach the decoder?")
