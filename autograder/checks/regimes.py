"""Training budgets and thresholds of the training checks, in one place for the checks and the calibration.

Every threshold carries the range observed on the reference solution by autograder/calibrate.py.
"""
from __future__ import annotations

from typing import Callable

import torch

from autograder.reference import active_units, kl_to_prior, sse_per_image

NZ, LR, BATCH_SIZE = 64, 1e-3, 64
ITERATIONS = {"beta0": 200, "beta10": 100, "tuned": 300}   # of batches of 64 from the first 2,048 images
SEED = 0

# The training loops (2c, 3b): mean of the last 3 losses / mean of the first 3.
LOOP_MAX_END_START_RATIO = 0.8
# beta = 0: the posterior becomes a near-deterministic code.
BETA0_MIN_KL = 50.0               # nats per image
BETA0_MAX_SIGMA = 0.6             # mean posterior sigma
BETA0_MAX_REC_RATIO = 0.6         # reconstruction SSE / SSE of predicting the mean image
# beta = 10: posterior collapse.
BETA10_MAX_KL = 0.5
BETA10_MAX_ACTIVE_UNITS = 1
BETA10_MIN_REC_RATIO = 0.85       # no better than predicting one image for all digits
BETA10_MAX_SAMPLE_STD = 0.02      # pixel std across prior samples: they are all the same image
# the student's best_beta: a useful regime.
TUNED_KL_RANGE = (1.0, 100.0)
TUNED_MIN_ACTIVE_UNITS = 5
TUNED_MAX_REC_RATIO = 0.85


def measure(run_probe: Callable[..., dict], train: torch.Tensor, held_out: torch.Tensor, beta: float,
            iterations: int, seed: int = SEED) -> dict[str, float]:
    """Train the student's VAE in the grader's fixed loop (probe `vae_regime`) and measure it on held-out images."""
    data = run_probe("vae_regime", {"images": train, "held_out": held_out, "nz": NZ, "beta": beta, "lr": LR,
                                    "batch_size": BATCH_SIZE, "iterations": iterations, "seed": seed}, seconds=120)
    q = data["q"]
    assert list(q.shape) == [len(held_out), 2 * NZ], f"The VAE's q had shape {list(q.shape)}, not [{len(held_out)}, {2 * NZ}]."
    mean_image = held_out.mean(0, keepdim=True).expand_as(held_out)
    return {"kl": kl_to_prior(q, NZ).item(), "sigma": q[:, NZ:].exp().mean().item(), "active": active_units(q, NZ),
            "rec_ratio": (sse_per_image(held_out, data["rec"]) / sse_per_image(held_out, mean_image)).item(),
            "sample_std": data["samples"].std(0).mean().item()}
