"""2c: train_autoencoder on a fixed subset of MNIST (CPU, seeded, 3 epochs of 8 batches).

The student's loop trains an AutoEncoder built on the reference networks, from a fixed seed;
the probe hands back the losses it logged and the trained weights. The grader builds the same
networks from the same seed itself, so it knows the initial weights, and measures the loss
before and after training, and which parameters changed, from the weights alone.
"""
import pytest

from autograder.checks import regimes as R
from autograder.checks import results

SETTINGS = R.AE_LOOP
EPOCHS, BATCHES = SETTINGS["epochs"], R.LOOP_IMAGES // SETTINGS["batch_size"]


@pytest.fixture(scope="module")
def out(run_probe, mnist):
    return run_probe("train_autoencoder", {"images": mnist["train"][:R.LOOP_IMAGES], **SETTINGS}, seconds=60)


@pytest.fixture(scope="module")
def losses(out):
    return results.tensor(out, "losses", finite=False, what="the list of losses")


@pytest.fixture(scope="module")
def trained(out, mnist):
    """The grader's measurements of the returned weights (regimes.measure_loop)."""
    return R.measure_loop("ae", out, mnist["train"], SETTINGS)


def test_returns_one_python_float_per_iteration(out, losses, trained):
    """train_autoencoder returns a list with one Python float per iteration: the loss of the model as it trains."""
    kind, items = results.plain(out, "type", str, "the type of the result"), results.plain(out, "item_types", list, "the types in the list")
    assert kind == "list", f"train_autoencoder returned a {kind}, not a list."
    assert items == ["float"], f"The list holds {items}: append loss.item(), not the tensor."
    assert len(losses) == EPOCHS * BATCHES, f"Expected {EPOCHS * BATCHES} losses ({EPOCHS} epochs x {BATCHES} batches), got {len(losses)}."
    # Scale-free: whatever the loss's units, its log must move as the returned weights say it did.
    low, high = R.AE_LOGGED_CURVE_BAND
    curve = R.logged_curve(losses, trained)
    assert low < curve < high, (
        f"From the first iteration to the last your losses changed by a factor {float(losses[-1] / losses[0]):.2f}, "
        f"but the loss of the model your loop returned changed by {trained['last_batch'] / trained['first_batch']:.2f} "
        "on those batches: log loss.item() of each batch, computed on the model being trained.")


def test_first_loss_is_the_summed_squared_error_of_the_first_batch(losses, trained):
    """The loss is the squared error summed over pixels and averaged over the batch (the stated convention), logged for the model trained."""
    low, high = R.AE_LOGGED_LOSS_BAND
    # The grader computes both expectations itself: the first batch through its own copy of the
    # initial model, and the last batch through the weights returned (one step after the last loss).
    # Averaging over pixels gives 1/784 of it, summing over the batch 64x: both far outside the band.
    expected, got = trained["first_batch"], float(losses[0]) if len(losses) else float("nan")
    assert low * expected < got < high * expected, (
        f"The first loss was {got:.3f}, but the squared error summed over the pixels of each image and averaged "
        f"over the batch is {expected:.1f} for that batch: check the reduction (nn.MSELoss() averages over pixels).")
    expected, got = trained["last_batch"], float(losses[-1])
    assert low * expected < got < high * expected, (
        f"The last loss logged was {got:.3f}, but the model your loop returned has a loss of {expected:.1f} on that "
        "last batch: log loss.item() of every batch, computed on the model being trained.")


def test_loss_falls_during_training(trained):
    """Training lowers the loss on the fixed subset (measured by the grader on the returned weights)."""
    before, after = trained["before"], trained["after"]
    # Threshold calibrated by autograder/devtools/calibrate.py (observed range recorded in regimes.py).
    assert after < R.AE_LOOP_MAX_RATIO * before, (
        f"With the weights your loop returned, the loss on the training images went from {before:.1f} to {after:.1f}: "
        "it should fall clearly. Is the optimiser stepping, on the model it was given?")


def test_optimizer_updates_every_parameter(trained):
    """Training changes every parameter of the model (the optimiser gets all of them and steps)."""
    assert not trained["unchanged"], (
        f"These parameters never changed: {', '.join(trained['unchanged'][:5])}. "
        "Give the optimiser model.parameters() and call optimizer.step() after loss.backward().")
