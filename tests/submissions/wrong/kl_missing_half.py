"""KL without the factor 1/2 on the quadratic terms.

loses: p3a_kl_divergence p3a_vae_loss
"""


def kl_divergence(mu1, log_sigma1, mu2, log_sigma2):
    return log_sigma2 - log_sigma1 + (torch.exp(2 * log_sigma1) + (mu1 - mu2) ** 2) / torch.exp(2 * log_sigma2) - 1
