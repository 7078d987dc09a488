"""2c: train_autoencoder on a fixed subset of MNIST (CPU, seeded, 3 epochs of 8 batches)."""
import pytest

from autograder.checks import regimes as R

EPOCHS, BATCHES = 3, 8


@pytest.fixture(scope="module")
def out(run_probe, mnist):
    return run_probe("train_autoencoder", {"images": mnist["train"][:512], "nz": 16, "epochs": EPOCHS, "lr": 1e-3,
                                           "batch_size": 64, "seed": 7}, seconds=60)


def test_returns_one_python_float_per_iteration(out):
    """train_autoencoder returns a list with one Python float per iteration."""
    assert out["type"] == "list", f"train_autoencoder returned a {out['type']}, not a list."
    assert out["item_types"] == ["float"], f"The list holds {out['item_types']}: append loss.item(), not the tensor."
    assert len(out["losses"]) == EPOCHS * BATCHES, f"Expected {EPOCHS * BATCHES} losses ({EPOCHS} epochs x {BATCHES} batches), got {len(out['losses'])}."


def test_first_loss_is_the_summed_squared_error_of_the_first_batch(out):
    """The loss is the squared error summed over pixels and averaged over the batch (the stated convention)."""
    expected, got = out["first_batch_sse"], float(out["losses"][0]) if len(out["losses"]) else float("nan")
    # The reference's first loss equals `expected` (same model, same batch); the band leaves room for dropout.
    # Averaging over pixels gives 1/784 of it, summing over the batch 64x: both far outside the band.
    assert 0.75 * expected < got < 1.33 * expected, (
        f"The first loss was {got:.3f}, but the squared error summed over the pixels of each image and averaged "
        f"over the batch is {expected:.1f} for that batch: check the reduction (nn.MSELoss() averages over pixels).")


def test_loss_falls_during_training(out):
    """The loss goes down on a fixed subset."""
    losses = out["losses"]
    assert len(losses) >= 10, "Too few losses were returned to see the training progress."
    start, end = losses[:3].mean().item(), losses[-3:].mean().item()
    # Threshold calibrated by autograder/calibrate.py (observed range printed there).
    assert end < R.LOOP_MAX_END_START_RATIO * start, f"The loss went from {start:.1f} to {end:.1f}: it should fall clearly. Is the optimiser stepping?"


def test_optimizer_updates_every_parameter(out):
    """Training changes every parameter of the model (the optimiser gets all of them and steps)."""
    assert not out["unchanged_params"], (
        f"These parameters never changed: {', '.join(out['unchanged_params'][:5])}. "
        "Give the optimiser model.parameters() and call optimizer.step() after loss.backward().")
