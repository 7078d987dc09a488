"""2a: Encoder(nz) and Decoder(nz), for several latent sizes and batch sizes.

The probe only exports each network as plain data (a torch.fx trace of forward, its layers and
its weights); the grader rebuilds it from a whitelist of layers and operations
(autograder/grading/architecture.py) and measures everything below itself, on inputs of its own. Nothing
the probe could claim about shapes, values or gradients is read.
"""
import pytest
import torch

from autograder.grading.architecture import Unreadable, rebuild

NZS, BATCHES = (2, 16, 64), (1, 3, 8)
NAMES = {"encoder": "Encoder", "decoder": "Decoder"}


def grader_inputs() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(2024)
    return {"images": torch.rand(8, 1, 28, 28, generator=generator), "codes": torch.randn(8, 64, generator=generator)}


def _attempt(compute):
    """The tensor `compute()` returns, or the plain-words reason it could not be computed."""
    try:
        value = compute()
    except Unreadable as e:
        return str(e)
    return value


def _tensor(value, who):
    if isinstance(value, str):
        return value
    if not isinstance(value, torch.Tensor):
        return f"{who} returned a {type(value).__name__} instead of a tensor."
    return value


@pytest.fixture(scope="module")
def out(run_probe):
    return measure(run_probe, grader_inputs())


def measure(run_probe, inputs) -> dict:
    """What the grader measured on the rebuilt networks: a tensor per measurement, or why it could not."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _measure(run_probe, inputs)
    finally:
        torch.set_num_threads(threads)


def _export(run_probe, inputs, nzs, networks=tuple(NAMES)):
    return run_probe("architecture", {"nzs": list(nzs), "networks": list(networks), "images": inputs["images"][:2],
                                      "codes": inputs["codes"][:2]}, seconds=60)


def _deferred(description) -> bool:
    return isinstance(description, dict) and len(description) == 1 and description.get("deferred") is True


def _measure(run_probe, inputs):
    networks, out = {}, {}
    data = _export(run_probe, inputs, NZS)   # one probe; a network too large to share it comes in a probe of its own
    for nz in NZS:
        for key, name in NAMES.items():
            if _deferred(data.get(f"{key}_{nz}")):
                data.update(_export(run_probe, inputs, [nz], [key]))
            networks[key, nz] = _attempt(lambda: rebuild(data.get(f"{key}_{nz}"), f"{name}({nz})"))
    for nz in NZS:
        encoder, decoder = networks["encoder", nz], networks["decoder", nz]
        with torch.no_grad():
            for batch in BATCHES:
                out[f"enc_{nz}_{batch}"] = encoder if isinstance(encoder, str) else _tensor(
                    _attempt(lambda: encoder.run("forward", inputs["images"][:batch])), f"Encoder({nz})")
                out[f"dec_{nz}_{batch}"] = decoder if isinstance(decoder, str) else _tensor(
                    _attempt(lambda: decoder.run("forward", inputs["codes"][:batch, :nz])), f"Decoder({nz})")
            out[f"dec_extreme_{nz}"] = decoder if isinstance(decoder, str) else _tensor(
                _attempt(lambda: decoder.run("forward", inputs["codes"][:8, :nz] * 30)), f"Decoder({nz})")
    out["gradients"] = _gradients(networks["encoder", 16], networks["decoder", 16], inputs["images"][:8])
    return out


def _gradients(encoder, decoder, images):
    """(parameters that get no gradient, number of parameters) after one backward pass in train mode, or why not."""
    for network in (encoder, decoder):
        if isinstance(network, str):
            return network
    torch.manual_seed(0)
    codes = _tensor(_attempt(lambda: encoder.run("forward", images, train=True)), "Encoder(16)")
    if isinstance(codes, str):
        return codes
    result = _tensor(_attempt(lambda: decoder.run("forward", codes, train=True)), "Decoder(16)")
    if isinstance(result, str):
        return result
    named = [(f"Encoder(16) {n}", p) for n, p in encoder.named_parameters()]
    named += [(f"Decoder(16) {n}", p) for n, p in decoder.named_parameters()]
    if result.requires_grad:
        result.sum().backward()
    without = [n for n, p in named if p.grad is None or not p.grad.abs().sum() > 0]
    return without, sum(p.numel() for _, p in named)


def _value(out, key):
    value = out[key]
    if isinstance(value, str):
        pytest.fail(value, pytrace=False)
    return value


def test_encoder_maps_images_to_codes_of_size_nz(out):
    """The encoder turns [B, 1, 28, 28] images into [B, nz] codes."""
    for nz in NZS:
        for batch in BATCHES:
            shape = list(_value(out, f"enc_{nz}_{batch}").shape)
            assert shape == [batch, nz], f"Encoder({nz}) turned {batch} images into shape {shape} instead of [{batch}, {nz}]."


def test_decoder_maps_codes_to_28x28_images(out):
    """The decoder turns [B, nz] codes into [B, 1, 28, 28] images."""
    for nz in NZS:
        for batch in BATCHES:
            shape = list(_value(out, f"dec_{nz}_{batch}").shape)
            assert shape == [batch, 1, 28, 28], f"Decoder({nz}) turned {batch} codes into shape {shape} instead of [{batch}, 1, 28, 28]."


def test_decoder_outputs_lie_between_0_and_1_even_for_extreme_codes(out):
    """Decoder outputs are pixel values in [0, 1] (a final sigmoid)."""
    for nz in NZS:
        values = _value(out, f"dec_extreme_{nz}")
        assert values.numel() > 0 and not values.isnan().any(), f"Decoder({nz}) produced no numbers or NaN for large codes."
        assert values.min() >= 0 and values.max() <= 1, (
            f"Decoder({nz}) produced values from {values.min():.2f} to {values.max():.2f}: end it with nn.Sigmoid().")


def test_encoder_codes_are_not_squashed_to_positive_values(out):
    """Codes can be negative: no ReLU or sigmoid after the encoder's last layer (a VAE needs negative log sigma)."""
    codes = torch.cat([_value(out, f"enc_64_{b}").flatten() for b in BATCHES])
    assert (codes < 0).any() and (codes > 0).any(), "All codes had one sign: remove the activation after the encoder's last layer."


def test_gradients_reach_every_parameter(out):
    """Every parameter of the encoder and decoder receives a gradient."""
    without, n_params = _value(out, "gradients")
    assert n_params > 0, "The encoder and decoder have no trainable parameters."
    assert not without, f"These parameters get no gradient: {', '.join(without[:5])}."
