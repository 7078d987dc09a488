"""2e: sample_prior draws codes from N(0, I) and decodes them.

The probe gives sample_prior a non-linear decoder that the grader can invert exactly
(networks._InvertibleDecoder: images = SCALE * g(z @ basis.T) + SHIFT with g(u) = u + sin(u) / 2
and the grader's own orthonormal basis). The grader reads the codes back from the images and
judges them; images the decoder did not make (torch.randn images, say) have no codes to read.
"""
import pytest
import torch

from autograder.checks import results
from autograder.sandbox.networks import decode_codes

N, NZ, SEED = 128, 392, 11          # 50,176 codes; images of 784 pixels leave 392 dimensions to tell decodings apart
SCALE, SHIFT = 0.15, 0.5
BASIS = torch.linalg.qr(torch.randn(784, NZ, generator=torch.Generator().manual_seed(2025)))[0].contiguous()
MAX_OFF_DECODER = 1e-3              # float32 decoding leaves about 1e-6; an image no code decodes to, about 1


@pytest.fixture(scope="module")
def out(run_probe):
    return run_probe("sample_prior", {"n": N, "nz": 6, "seed": SEED, "basis": BASIS, "scale": SCALE, "shift": SHIFT})


def _codes(out: dict, key: str) -> torch.Tensor:
    """The codes the decoder turned into the images out[key], or the check fails."""
    images = results.tensor(out, key, [N, 1, 28, 28], what=f"the {N} samples")
    codes, off = decode_codes(images, BASIS, SCALE, SHIFT)
    if off > MAX_OFF_DECODER:
        results.fail(f"The samples are not images the decoder made (they differ from any decoded code by up to {off:.2g}): "
                     "draw the codes, then return decoder(codes), not the codes or other random images.")
    return codes


def test_returns_n_images_of_28x28(out):
    """sample_prior(decoder, n, nz) returns [n, 1, 28, 28] images that the decoder made, without gradients."""
    shape = list(results.tensor(out, "a", finite=False, what=f"the {N} samples").shape)
    assert shape == [N, 1, 28, 28], f"{N} samples came back with shape {shape}."
    _codes(out, "a")
    real = results.plain(out, "real_shape", list, "the shape of samples from your Decoder")
    assert real == [5, 1, 28, 28], f"With your Decoder, 5 samples had shape {real}."
    assert results.plain(out, "requires_grad", bool, "whether the samples carry gradients") is False, (
        "Samples should be drawn under torch.no_grad().")


def test_codes_come_from_the_unit_gaussian_prior(out):
    """The codes (read back from the decoded samples) are drawn from N(0, I): mean 0, standard deviation 1, Gaussian."""
    codes = _codes(out, "a").flatten()
    mean, std = codes.mean().item(), codes.std().item()
    kurtosis = (((codes - mean) / std) ** 4).mean().item()
    # 50,176 draws: the standard error of the mean is 0.0045, of the std 0.0032, of the kurtosis (3 for a Gaussian) 0.044.
    assert abs(mean) < 0.05 and abs(std - 1) < 0.05, (
        f"The codes had mean {mean:.3f} and standard deviation {std:.3f}; the prior N(0, I) has 0 and 1 (use torch.randn).")
    assert abs(kurtosis - 3) < 0.3, (
        f"The codes have mean 0 and standard deviation 1 but are not Gaussian (kurtosis {kurtosis:.2f}, a Gaussian has 3): use torch.randn.")


def test_follows_its_generator(out):
    """The same seeded generator gives the same codes; another seed gives others."""
    a, b, c = (_codes(out, key) for key in ("a", "b", "c"))
    assert torch.equal(a, b), "Two calls with equally seeded generators differed: pass `generator` to torch.randn."
    assert not torch.allclose(a, c, atol=1e-3), "Different seeds gave the same samples."
