"""2e: sample_prior draws codes from N(0, I) and decodes them."""
import pytest
import torch


@pytest.fixture(scope="module")
def out(run_probe):
    # The probe's decoder shows its codes as images, so the codes can be read off the samples.
    return run_probe("sample_prior", {"n": 64, "nz": 6, "seed": 11})


def test_returns_n_images_of_28x28(out):
    """sample_prior(decoder, n, nz) returns [n, 1, 28, 28] images, without gradients."""
    assert list(out["a"].shape) == [64, 1, 28, 28], f"64 samples came back with shape {list(out['a'].shape)}."
    assert out["real_shape"] == [5, 1, 28, 28], f"With your Decoder, 5 samples had shape {out['real_shape']}."
    assert not out["requires_grad"], "Samples should be drawn under torch.no_grad()."


def test_codes_come_from_the_unit_gaussian_prior(out):
    """The codes are drawn from N(0, I): mean 0 and standard deviation 1."""
    codes = out["a"].flatten()
    # 50,176 draws: the standard error of the mean is 0.0045 and of the std 0.0032.
    assert abs(codes.mean()) < 0.05 and abs(codes.std() - 1) < 0.05, (
        f"The codes had mean {codes.mean():.3f} and standard deviation {codes.std():.3f}; "
        "the prior N(0, I) has 0 and 1 (use torch.randn).")


def test_follows_its_generator(out):
    """The same seeded generator gives the same samples; another seed gives others."""
    assert torch.equal(out["a"], out["b"]), "Two calls with equally seeded generators differed: pass `generator` to torch.randn."
    assert not torch.equal(out["a"], out["c"]), "Different seeds gave identical samples."
