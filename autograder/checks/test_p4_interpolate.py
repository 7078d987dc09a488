"""4: interpolate(model, x_start, x_end, steps) for an AutoEncoder and a VAE."""
import pytest
import torch

STEPS = 6


@pytest.fixture(scope="module")
def out(run_probe, mnist):
    return run_probe("interpolation", {"start": mnist["test"][0], "end": mnist["test"][1], "steps": STEPS, "nz": 8, "seed": 4})


@pytest.mark.parametrize("kind", ["AutoEncoder", "VAE"])
def test_returns_steps_images(out, kind):
    """interpolate returns [steps, 1, 28, 28] images."""
    assert list(out[f"path_{kind}"].shape) == [STEPS, 1, 28, 28], f"For the {kind}, {STEPS} steps gave shape {list(out[f'path_{kind}'].shape)}."


@pytest.mark.parametrize("kind", ["AutoEncoder", "VAE"])
def test_endpoints_decode_the_two_codes(out, kind):
    """The first and last images decode the codes (for a VAE: the posterior means) of the two digits."""
    path, expected = out[f"path_{kind}"], out[f"expected_{kind}"]
    assert path.shape == expected.shape and torch.allclose(path[[0, -1]], expected[[0, -1]], atol=1e-4), (
        f"For the {kind} the path should start and end at the decoded codes of x_start and x_end"
        + (" (for a VAE, the means: the first nz columns of q)." if kind == "VAE" else "."))


@pytest.mark.parametrize("kind", ["AutoEncoder", "VAE"])
def test_path_is_a_straight_line_in_latent_space(out, kind):
    """The intermediate images decode equally spaced points on the line between the two codes."""
    path, expected = out[f"path_{kind}"], out[f"expected_{kind}"]
    assert path.shape == expected.shape and torch.allclose(path, expected, atol=1e-4), (
        f"For the {kind} the intermediate images do not decode (1 - t) * z_start + t * z_end for t = 0, 1/{STEPS - 1}, ..., 1: "
        "interpolate the codes, not the images.")
