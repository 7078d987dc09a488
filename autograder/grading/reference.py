"""Trusted formulas the checks compare the student's outputs with (no student code here)."""
from __future__ import annotations

import torch


def kl_normal(mu1: torch.Tensor, log_sigma1: torch.Tensor, mu2: torch.Tensor, log_sigma2: torch.Tensor) -> torch.Tensor:
    """Elementwise KL(N(mu1, sigma1^2) || N(mu2, sigma2^2)), through torch.distributions."""
    p = torch.distributions.Normal(mu1, log_sigma1.exp())
    q = torch.distributions.Normal(mu2, log_sigma2.exp())
    return torch.distributions.kl_divergence(p, q)


def sse_per_image(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """The course's reconstruction term: squared error summed over pixels, averaged over images."""
    return ((x_hat - x) ** 2).flatten(1).sum(1).mean()


def kl_to_prior(q: torch.Tensor, nz: int) -> torch.Tensor:
    """The course's KL term for encoder outputs q = [mu, log_sigma]: summed over units, averaged over images."""
    mu, log_sigma = q[:, :nz], q[:, nz:]
    return kl_normal(mu, log_sigma, torch.zeros_like(mu), torch.zeros_like(mu)).sum(1).mean()


def deterministic_vae_loss(x: torch.Tensor, q: torch.Tensor, rec_of_mean: torch.Tensor, nz: int, beta: float) -> torch.Tensor:
    """The course's VAE loss without sampling: the reconstruction of the posterior mean, plus beta times the KL of q."""
    return sse_per_image(x, rec_of_mean) + beta * kl_to_prior(q, nz)


def active_units(q: torch.Tensor, nz: int, threshold: float = 0.01) -> int:
    """Latent units whose posterior mean varies across images (Var over x of mu > threshold)."""
    return int((q[:, :nz].var(dim=0) > threshold).sum())
