"""The graded parts of the assignment and their points (design.md §1, 45 points in all).

A cell's part is the prefix of its nbgrader grade id up to the first underscore:
`p3a_kl_divergence` belongs to part `p3a`. The tests check that the notebook's
metadata adds up to this table.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Part:
    id: str
    title: str
    points: int
    graded_by: str


PARTS: tuple[Part, ...] = (
    Part("p1", "MNIST data loading and a look at samples", 0, "-"),
    Part("p2a", "Auto-encoder architecture: Encoder and Decoder", 6, "hidden checks"),
    Part("p2b", "Forward-pass test", 1, "checks"),
    Part("p2c", "Auto-encoder training loop", 6, "hidden checks"),
    Part("p2d", "Reconstructions on the test set", 0, "-"),
    Part("p2e", "Sampling from the auto-encoder with a unit Gaussian prior", 2, "hidden checks"),
    Part("p2f", "Inline question: why are AE samples poor?", 2, "TA"),
    Part("p3a", "VAE model: KL divergence, reparameterization, loss, forward", 7, "hidden checks"),
    Part("p3b", "VAE training loop at beta=0 and beta=10", 4, "hidden checks"),
    Part("p3c", "Inline questions: beta=0, beta=10, a well-tuned VAE", 9, "TA"),
    Part("p3d", "Tuning beta", 5, "hidden checks + TA"),
    Part("p4", "Latent interpolation, AE vs VAE", 3, "checks + TA"),
)

TOTAL_POINTS = sum(part.points for part in PARTS)


def part_of(grade_id: str) -> str:
    """The part a grade id belongs to: `p3a_vae_loss` -> `p3a`."""
    return grade_id.split("_", 1)[0]


@dataclass(frozen=True)
class Question:
    """A manually graded inline answer: its word limit, and the figures a TA judges it against."""
    grade_id: str          # the answer cell
    points: int
    word_limit: int
    figures: tuple[str, ...]   # grade ids of the code cells whose plots the answer discusses


QUESTIONS: tuple[Question, ...] = (
    Question("p2f_answer_ae_samples", 2, 150, ("p2d_reconstructions", "p2e_run")),
    Question("p3c_answer_beta0", 3, 150, ("p3b_run", "p3b_figures")),
    Question("p3c_answer_beta10", 3, 150, ("p3b_run", "p3b_figures")),
    Question("p3c_answer_well_tuned", 3, 150, ("p3d_figures",)),
    Question("p3d_answer_tuning", 2, 100, ("p3d_figures",)),
    Question("p4_answer_interpolation", 1, 100, ("p4_run",)),
)


def word_count(text: str) -> int:
    """Words as a TA would count them: whitespace-separated tokens with a letter or digit (not bare `*` or `-`)."""
    return len([w for w in text.split() if any(ch.isalnum() for ch in w)])
