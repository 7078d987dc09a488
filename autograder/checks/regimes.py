"""Training budgets and thresholds of the training checks, in one place for the checks and the calibration.

Every threshold carries the range observed on the reference solution by autograder/devtools/calibrate.py.

Verify, don't trust: a probe runs after the student's code in the same interpreter, so what it
returns is a claim. The training probes therefore hand back only trained weights (and the
loop's own history, checked for its form and against those weights); everything a threshold is
compared with is measured here, in the grading process, on the grader's own copy of the
reference networks.
"""
from __future__ import annotations

import copy
import threading
from typing import Callable

import torch

from autograder.checks import results
from autograder.grading.reference import active_units, deterministic_vae_loss, kl_to_prior, sse_per_image
from autograder.sandbox.networks import REGIME_NETWORKS, ReferenceDecoder, ReferenceEncoder

# The training loops (2c, 3b): the student's train_autoencoder / train_vae trains a model built on
# the reference networks (for 3b, networks.ReferenceVAE), from a fixed seed, on the first
# LOOP_IMAGES training images in order.
LOOP_IMAGES = 512
AE_LOOP = {"nz": 16, "epochs": 3, "lr": 1e-3, "batch_size": 64, "seed": 7}
VAE_LOOP = {"nz": 16, "beta": 1.0, "epochs": 2, "lr": 1e-3, "batch_size": 64, "seed": 9}

NZ, LR, BATCH_SIZE = 64, 1e-3, 64
ITERATIONS = {"beta0": 200, "beta10": 100, "tuned": 300}   # of batches of 64 from the first 2,048 images
# The grader's networks each regime trains the student's VAE on (networks.REGIME_NETWORKS). The light
# MLP costs 6 ms an iteration against the reference's 55 (one thread) and reaches the beta = 0 and
# best_beta regimes with wider margins; at beta = 10 its collapsed decoder decodes z = 0 off its
# training distribution (rec ratio 1.7-2.1, as bad as black images), so the collapse keeps the reference.
NETWORK = {"beta0": "light", "beta10": "reference", "tuned": "light"}
SEED = 0

# Observed on the reference solution by `vae-course calibrate --seeds 20` (seeds 0-19,
# 2,048 training images, one torch thread), written as [min, median, max] -> worst-case margin.
# Every value is measured in the grading process from the weights the probes return.

# The training loops (2c, 3b), over the loop's 512 images: the loss of the returned weights / the
# loss of the initial weights (the grader's own copy). A loop that does not train gives exactly 1.
AE_LOOP_MAX_RATIO = 0.8           # AE loss [0.19, 0.23, 0.30] -> margin 0.50 (the logged end/start it replaces: 0.42)
VAE_LOOP_MAX_RATIO = 0.8          # regimes.vae_loss (posterior mean decoded + KL) [0.30, 0.34, 0.47] -> margin 0.33
# The losses 2c's loop logs, against the grader's: the first / the first batch's loss under the
# initial weights, and the last / the last batch's under the returned weights (one step later).
# A mean over pixels logs 1/784 of it, a sum over the batch 64x; losses scaled down as if training
# worked while the weights did not change log less than 0.5 of it at the end.
AE_LOGGED_LOSS_BAND = (0.75, 1.33)   # first [1, 1, 1] -> margins 0.25, 0.33; last [1.026, 1.031, 1.040] -> 0.28, 0.29
# How a loop's log moved (last / first) against the grader's measure of the same batches
# (regimes.logged_curve); 2c's is scale-free and equals last / first above. Losses scaled down by
# 0.95 an iteration over unchanged weights give 0.31 (2c) and 0.46 (3b).
# The correct loops of tests/submissions/correct (loops_written_differently and the reference's),
# seeds 0-5: AE curve 1.026-1.033, VAE curve 1.00-1.11, VAE ratio 0.33-0.54.
AE_LOGGED_CURVE_BAND = (0.75, 1.33)    # [1.026, 1.031, 1.040] -> margins 0.28, 0.29
VAE_LOGGED_CURVE_BAND = (0.6, 1.8)     # [0.98, 1.04, 1.30] -> margins 0.38, 0.50 (the log samples z, the grader decodes the mean)
# beta = 0 (light networks): the posterior becomes a near-deterministic code. All 20 seeds:
BETA0_MIN_KL = 50.0               # nats per image [401, 441, 468] -> margin 351 (reference networks: 157)
BETA0_MAX_SIGMA = 0.6             # mean posterior sigma [0.031, 0.038, 0.046] -> margin 0.55 (reference: 0.24)
BETA0_MAX_REC_RATIO = 0.6         # reconstruction SSE / SSE of the mean image [0.43, 0.45, 0.48] -> margin 0.12 (reference: 0.04)
# On the reference networks 3 of the 20 seeds (5, 10, 16) missed the regime in 200 iterations
# (sigma exploded, or BatchNorm running statistics lagged behind a growing code); the light
# networks, without BatchNorm, reach it on all 20. A correct VAE still gets up to this many seeds
# (SEED, SEED+1, ...) to show the regime, a wrong one fails them all (1 s each).
BETA0_ATTEMPTS = 3
# beta = 10 (reference networks, unchanged): posterior collapse.
BETA10_MAX_KL = 0.5               # [0.088, 0.13, 0.20] -> margin 0.30
BETA10_MAX_ACTIVE_UNITS = 1       # [0, 0, 0] -> margin 1
# Reconstructions no better than predicting one image for all, and no worse than a blurred average
# digit: [1.40, 1.45, 1.50] -> margins 0.55 and 0.30 (all-zero weights decode grey: 3.21, black: 1.95).
BETA10_REC_RATIO_RANGE = (0.85, 1.8)
BETA10_MAX_SAMPLE_STD = 0.02      # pixel std across prior samples [0.0055, 0.0061, 0.0075] -> margin 0.0125
# The samples' mean image against the data's: |mean sample - mean image|^2 / |mean image|^2
# [0.11, 0.13, 0.18] -> margin 0.32 (black samples: 1, grey: 2.3; at beta = 0: 0.12-0.43).
BETA10_MAX_SAMPLE_MEAN_ERROR = 0.5
# the student's best_beta (reference: 1.0), 300 iterations on the light networks: a useful regime,
# not a collapsed one. Students tune on the full data and land between 0.6 and 1.8; on seeds 0-9,
# beta = 1.8 gives ratio 0.88-1.01, KL 2.7-3.1, 61-64 active units, beta = 0.5 ratio 0.53-0.55, KL
# 15-17, so the bars separate a useful beta from a collapsing one (beta = 10, seed 0: ratio 1.87,
# KL 0.02, no active unit). The margins on the reference networks were 4.3, 90, 59 and 0.38.
TUNED_KL_RANGE = (0.5, 100.0)     # [6.4, 7.2, 7.8] -> margins 5.9 and 92
TUNED_MIN_ACTIVE_UNITS = 5        # [64, 64, 64] -> margin 59
TUNED_MAX_REC_RATIO = 1.2         # [0.66, 0.69, 0.73] -> margin 0.47; beta = 1.8 at most 1.01


def beta0_regime_reached(m: dict[str, float]) -> bool:
    return m["kl"] > BETA0_MIN_KL and m["sigma"] < BETA0_MAX_SIGMA and m["rec_ratio"] < BETA0_MAX_REC_RATIO


def measure_beta0(run_probe: Callable[..., dict], train: torch.Tensor, held_out: torch.Tensor) -> dict[str, float]:
    """Measure beta = 0 on up to BETA0_ATTEMPTS seeds, stopping at the first that reaches the regime."""
    for attempt in range(BETA0_ATTEMPTS):
        m = measure(run_probe, train, held_out, 0.0, ITERATIONS["beta0"], seed=SEED + attempt, network=NETWORK["beta0"])
        if beta0_regime_reached(m):
            break
    return {**m, "attempts": attempt + 1}


# Building a network draws from torch's global random state: one thread at a time (calibrate.py
# measures in threads), and that state is restored afterwards.
_GLOBAL_RNG = threading.Lock()


def _fresh(network: type, size: int) -> torch.nn.Module:
    """A reference network whose weights are about to be overwritten (the global random state is left alone)."""
    with _GLOBAL_RNG, torch.random.fork_rng(devices=[]):
        return network(size)


def measure(run_probe: Callable[..., dict], train: torch.Tensor, held_out: torch.Tensor, beta: float,
            iterations: int, seed: int = SEED, network: str = "reference") -> dict[str, float]:
    """Train the student's VAE in the grader's fixed loop (probe `vae_regime`) and measure it on held-out images.

    `network` names the grader's encoder and decoder the VAE is built on (networks.REGIME_NETWORKS).
    The probe returns only the trained weights; q, the reconstructions (the posterior mean
    decoded) and the prior samples (the grader's own seeded codes decoded) are computed here.
    """
    data = run_probe("vae_regime", {"images": train, "nz": NZ, "beta": beta, "lr": LR, "batch_size": BATCH_SIZE,
                                    "iterations": iterations, "seed": seed, "network": network}, seconds=120)
    encoder_type, decoder_type = REGIME_NETWORKS[network]
    encoder = results.weights(data, "encoder", _fresh(encoder_type, 2 * NZ), "the trained VAE's encoder weights").eval()
    decoder = results.weights(data, "decoder", _fresh(decoder_type, NZ), "the trained VAE's decoder weights").eval()
    with torch.no_grad():
        q = encoder(held_out)
        rec = decoder(q[:, :NZ])
        samples = decoder(torch.randn(64, NZ, generator=torch.Generator().manual_seed(seed)))
    outputs = {"q": q, "rec": rec, "samples": samples}
    for name, value in outputs.items():
        results.tensor(outputs, name, what=f"the trained VAE's {'encoder output' if name == 'q' else name}")
    mean_image = held_out.mean(0, keepdim=True)
    return {"kl": kl_to_prior(q, NZ).item(), "sigma": q[:, NZ:].exp().mean().item(), "active": active_units(q, NZ),
            "rec_ratio": (sse_per_image(held_out, rec) / sse_per_image(held_out, mean_image.expand_as(held_out))).item(),
            "sample_std": samples.std(0).mean().item(),
            "sample_mean_error": (((samples.mean(0) - mean_image[0]) ** 2).sum() / (mean_image ** 2).sum()).item()}


# --- the training loops, measured from the weights they return ---------------------------------

def initial_networks(kind: str, settings: dict) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The grader's own copy of the networks the probe's model starts from ("ae" or "vae").

    The probe seeds torch with settings["seed"] and builds the student's AutoEncoder(nz) on the
    reference networks, or networks.ReferenceVAE(nz): each makes the encoder, then the decoder,
    and so does this.
    """
    nz = settings["nz"]
    with _GLOBAL_RNG, torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings["seed"])
        return ReferenceEncoder(nz if kind == "ae" else 2 * nz), ReferenceDecoder(nz)


def _batches(images: torch.Tensor, settings: dict):
    return images[:LOOP_IMAGES].split(settings["batch_size"])


def ae_loss(encoder: torch.nn.Module, decoder: torch.nn.Module, images: torch.Tensor, settings: dict) -> float:
    """The course's auto-encoder loss over the loop's images, batch by batch as in training (BatchNorm on batch statistics)."""
    encoder, decoder = copy.deepcopy(encoder).train(), copy.deepcopy(decoder).train()
    with torch.no_grad():
        return torch.stack([sse_per_image(x, decoder(encoder(x))) for x in _batches(images, settings)]).mean().item()


def vae_loss(encoder: torch.nn.Module, decoder: torch.nn.Module, images: torch.Tensor, settings: dict) -> float:
    """A deterministic VAE objective over the loop's images: the posterior mean decoded, plus beta * KL (batch statistics)."""
    encoder, decoder, nz = copy.deepcopy(encoder).train(), copy.deepcopy(decoder).train(), settings["nz"]
    with torch.no_grad():
        values = []
        for x in _batches(images, settings):
            q = encoder(x)
            values.append(deterministic_vae_loss(x, q, decoder(q[:, :nz]), nz, settings["beta"]))
        return torch.stack(values).mean().item()


def measure_loop(kind: str, out: dict, images: torch.Tensor, settings: dict) -> dict:
    """What the loop did to the model, from the weights it returned and the grader's own initial weights.

    before/after: the loss of the initial and of the returned weights (ae_loss or vae_loss);
    ratio = after / before; unchanged: the parameters still equal to their initial values;
    first_batch: the same loss of the first batch under the initial weights (what the loop logs
    first), last_batch: that of the last batch under the returned weights (one step after what the
    loop logs last).
    """
    encoder0, decoder0 = initial_networks(kind, settings)
    encoder = results.weights(out, "encoder", copy.deepcopy(encoder0), "the trained encoder's weights")
    decoder = results.weights(out, "decoder", copy.deepcopy(decoder0), "the trained decoder's weights")
    loss = ae_loss if kind == "ae" else vae_loss
    before, after = loss(encoder0, decoder0, images, settings), loss(encoder, decoder, images, settings)
    unchanged = [f"{prefix}.{name}" for prefix, start, end in (("encoder", encoder0, encoder), ("decoder", decoder0, decoder))
                 for (name, p0), (_, p1) in zip(start.named_parameters(), end.named_parameters()) if torch.equal(p0, p1)]
    batches = _batches(images, settings)
    return {"before": before, "after": after, "ratio": after / before, "unchanged": unchanged,
            "first_batch": loss(encoder0, decoder0, batches[0], settings),
            "last_batch": loss(encoder, decoder, batches[-1], settings)}


def logged_curve(logged: torch.Tensor, measured: dict) -> float:
    """How the loop's own log moved (last / first) against how the returned weights say it moved.

    Scale-free: a loss in other units (a mean over pixels) still follows the model, 1 within one
    step's change; losses made to fall while the weights did not change do not. nan when there is no log.
    """
    if len(logged) < 2 or not torch.isfinite(logged[[0, -1]]).all() or logged[0] <= 0:
        return float("nan")
    return (logged[-1] / logged[0]).item() / (measured["last_batch"] / measured["first_batch"])
