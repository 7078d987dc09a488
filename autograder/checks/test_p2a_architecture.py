"""2a: Encoder(nz) and Decoder(nz), for several latent sizes and batch sizes."""
import pytest
import torch


@pytest.fixture(scope="module")
def out(run_probe):
    generator = torch.Generator().manual_seed(2024)
    return run_probe("architecture", {"images": torch.rand(8, 1, 28, 28, generator=generator),
                                      "codes": torch.randn(8, 64, generator=generator)})


def test_encoder_maps_images_to_codes_of_size_nz(out):
    """The encoder turns [B, 1, 28, 28] images into [B, nz] codes."""
    for nz in (2, 16, 64):
        for batch in (1, 3, 8):
            shape = list(out[f"enc_{nz}_{batch}"].shape)
            assert shape == [batch, nz], f"Encoder({nz}) turned {batch} images into shape {shape} instead of [{batch}, {nz}]."


def test_decoder_maps_codes_to_28x28_images(out):
    """The decoder turns [B, nz] codes into [B, 1, 28, 28] images."""
    for nz in (2, 16, 64):
        for batch in (1, 3, 8):
            shape = list(out[f"dec_{nz}_{batch}"].shape)
            assert shape == [batch, 1, 28, 28], f"Decoder({nz}) turned {batch} codes into shape {shape} instead of [{batch}, 1, 28, 28]."


def test_decoder_outputs_lie_between_0_and_1_even_for_extreme_codes(out):
    """Decoder outputs are pixel values in [0, 1] (a final sigmoid)."""
    for nz in (2, 16, 64):
        values = out[f"dec_extreme_{nz}"]
        assert values.min() >= 0 and values.max() <= 1, (
            f"Decoder({nz}) produced values from {values.min():.2f} to {values.max():.2f}: end it with nn.Sigmoid().")


def test_encoder_codes_are_not_squashed_to_positive_values(out):
    """Codes can be negative: no ReLU or sigmoid after the encoder's last layer (a VAE needs negative log sigma)."""
    codes = torch.cat([out[f"enc_64_{b}"] for b in (1, 3, 8)])
    assert (codes < 0).any() and (codes > 0).any(), "All codes had one sign: remove the activation after the encoder's last layer."


def test_gradients_reach_every_parameter(out):
    """Every parameter of the encoder and decoder receives a gradient."""
    assert out["n_params"] > 0, "The encoder and decoder have no trainable parameters."
    assert not out["params_without_grad"], f"These parameters get no gradient: {', '.join(out['params_without_grad'][:5])}."
