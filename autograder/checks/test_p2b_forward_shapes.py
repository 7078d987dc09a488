"""2b: a forward pass of the AutoEncoder on real digits."""


def test_autoencoder_forward_pass_keeps_shapes_and_gradients(run_probe, mnist):
    """AutoEncoder(nz) maps a batch of digits to [B, nz] codes and back to images of the input's shape."""
    out = run_probe("autoencoder_forward", {"images": mnist["test"][:10], "nz": 12})
    assert out["codes_shape"] == [10, 12], f"Codes of 10 digits with nz=12 had shape {out['codes_shape']}."
    assert out["rec_shape"] == [10, 1, 28, 28], f"Reconstructions had shape {out['rec_shape']} instead of [10, 1, 28, 28]."
    assert out["rec_requires_grad"], "The forward pass lost its gradients (no torch.no_grad() or .detach() in forward)."
