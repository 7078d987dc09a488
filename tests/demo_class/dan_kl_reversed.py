"""Dan finished everything, but swapped the two Gaussians in the KL, and wrote too much in one answer."""
FILE = "dan/vae (1).ipynb"
STUDENT = None

_KL_REVERSED = '''def kl_divergence(mu1: torch.Tensor, log_sigma1: torch.Tensor,
                  mu2: torch.Tensor, log_sigma2: torch.Tensor) -> torch.Tensor:
    """Elementwise KL(N(mu1, sigma1^2) || N(mu2, sigma2^2))."""
    variance_ratio = torch.exp(2 * (log_sigma2 - log_sigma1))
    mean_term = (mu2 - mu1) ** 2 / torch.exp(2 * log_sigma1)
    return log_sigma1 - log_sigma2 + 0.5 * (variance_ratio + mean_term) - 0.5
'''

CELLS = {
    **{grade_id: solution(grade_id) for grade_id in (
        "p2a_encoder_decoder_solution", "p2c_train_autoencoder_solution", "p2e_sample_prior_solution",
        "p3a_vae_solution", "p3b_train_vae_solution", "p3d_tuning_solution", "p4_interpolate_solution")},
    "p3a_kl_divergence_solution": _KL_REVERSED,
    "p3c_answer_beta0": "With beta = 0 the KL is free to grow. " * 30,
    "p3c_answer_beta10": (
        "The KL drops to almost zero and every reconstruction looks like the same average digit: the "
        "posterior collapsed onto the prior, because each nat of KL costs ten times more than it saves."
    ),
}
