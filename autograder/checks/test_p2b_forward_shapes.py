"""2b: a forward pass of the AutoEncoder on real digits.

The probe exports AutoEncoder(nz) as plain data (traces of its forward and of its encoder, its
layers and weights); the grader rebuilds it from a whitelist (autograder/grading/architecture.py) and runs
it on the digits itself. Nothing the probe could claim about shapes or gradients is read.
"""
import pytest
import torch

from autograder.grading.architecture import Unreadable, rebuild


def measure(run_probe, images: torch.Tensor, nz: int = 12):
    """(codes, reconstructions) of the rebuilt AutoEncoder(nz) on `images`, in train mode; raises Unreadable."""
    data = run_probe("autoencoder_forward", {"images": images[:2], "nz": nz}, seconds=60)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = rebuild(data.get("autoencoder"), f"AutoEncoder({nz})")
        torch.manual_seed(0)
        return model.run("encoder", images, train=True), model.run("forward", images, train=True)
    finally:
        torch.set_num_threads(threads)


def test_autoencoder_forward_pass_keeps_shapes_and_gradients(run_probe, mnist):
    """AutoEncoder(nz) maps a batch of digits to [B, nz] codes and back to images of the input's shape."""
    try:
        codes, rec = measure(run_probe, mnist["test"][:10])
    except Unreadable as e:
        pytest.fail(str(e), pytrace=False)
    for name, value in (("model.encoder", codes), ("AutoEncoder(12)", rec)):
        assert isinstance(value, torch.Tensor), f"{name} returned a {type(value).__name__} instead of a tensor."
    assert list(codes.shape) == [10, 12], f"Codes of 10 digits with nz=12 had shape {list(codes.shape)}."
    assert list(rec.shape) == [10, 1, 28, 28], f"Reconstructions had shape {list(rec.shape)} instead of [10, 1, 28, 28]."
    assert rec.requires_grad, "The forward pass lost its gradients (no torch.no_grad() or .detach() in forward)."
