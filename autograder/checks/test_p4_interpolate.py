"""4: interpolate(model, x_start, x_end, steps) for an AutoEncoder and a VAE.

The probe gives interpolate models whose encoder and decoder are the grader's fixed networks
(networks._CodeEncoder, _CurvedDecoder, with the weights sent from here) and returns only the
paths; the grader decodes the expected path with its own copy of the same networks, and can tell
whether an image is one the decoder makes (networks.curved_codes): a blend of two is not.
"""
import pytest
import torch

from autograder.checks import results
from autograder.sandbox.networks import _CodeEncoder, _CurvedDecoder, curved_codes

STEPS, NZ, SEED = 6, 8, 4
MAX_OFF_DECODER = 1e-3   # float32 decoding leaves about 1e-5; the middle of a pixel blend, about 0.5
KINDS = {"AutoEncoder": NZ, "VAE": 2 * NZ}   # the encoder's output size: a VAE's holds mu and log sigma


def _networks(code_size: int) -> tuple[torch.nn.Module, torch.nn.Module]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        return _CodeEncoder(code_size).eval(), _CurvedDecoder(NZ).eval()


NETWORKS = {kind: _networks(code_size) for kind, code_size in KINDS.items()}


@pytest.fixture(scope="module")
def out(run_probe, mnist):
    weights = {kind: {"encoder": encoder.state_dict(), "decoder": decoder.state_dict()}
               for kind, (encoder, decoder) in NETWORKS.items()}
    return run_probe("interpolation", {"start": mnist["test"][0], "end": mnist["test"][1], "steps": STEPS, "nz": NZ,
                                       "networks": weights})


@pytest.fixture(scope="module")
def expected(mnist):
    """The grader's own path: decode STEPS equally spaced points between the codes (the means, for a VAE)."""
    paths = {}
    for kind, (encoder, decoder) in NETWORKS.items():
        with torch.no_grad():
            codes = encoder(mnist["test"][:2])[:, :NZ]
            weights = torch.linspace(0, 1, STEPS).unsqueeze(1)
            paths[kind] = decoder((1 - weights) * codes[0] + weights * codes[1])
    return paths


def _path(out: dict, kind: str) -> torch.Tensor:
    return results.tensor(out, f"path_{kind}", [STEPS, 1, 28, 28], what=f"the {kind}'s path")


@pytest.mark.parametrize("kind", list(KINDS))
def test_returns_steps_images(out, kind):
    """interpolate returns [steps, 1, 28, 28] images, each one the model's decoder made."""
    shape = list(results.tensor(out, f"path_{kind}", finite=False, what=f"the {kind}'s path").shape)
    assert shape == [STEPS, 1, 28, 28], f"For the {kind}, {STEPS} steps gave shape {shape}."
    _, off = curved_codes(_path(out, kind), NETWORKS[kind][1])
    made = [f"{i + 1}" for i, distance in enumerate(off.tolist()) if distance > MAX_OFF_DECODER]
    assert not made, (
        f"For the {kind}, image{'s' if len(made) > 1 else ''} {', '.join(made)} of the path "
        f"{'are not images' if len(made) > 1 else 'is not an image'} the model's decoder makes: decode every point "
        "of the path with model.decoder (do not blend images).")


@pytest.mark.parametrize("kind", list(KINDS))
def test_endpoints_decode_the_two_codes(out, expected, kind):
    """The first and last images decode the codes (for a VAE: the posterior means) of the two digits."""
    path = _path(out, kind)
    assert torch.allclose(path[[0, -1]], expected[kind][[0, -1]], atol=1e-4), (
        f"For the {kind} the path should start and end at the decoded codes of x_start and x_end"
        + (" (for a VAE, the means: the first nz columns of q)." if kind == "VAE" else "."))


@pytest.mark.parametrize("kind", list(KINDS))
def test_path_is_a_straight_line_in_latent_space(out, expected, kind):
    """The intermediate images decode equally spaced points on the line between the two codes."""
    path = _path(out, kind)
    assert torch.allclose(path, expected[kind], atol=1e-4), (
        f"For the {kind} the intermediate images do not decode (1 - t) * z_start + t * z_end for t = 0, 1/{STEPS - 1}, ..., 1: "
        "interpolate the codes, not the images.")
