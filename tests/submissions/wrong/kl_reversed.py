"""KL with its arguments reversed: KL(N2 || N1).

loses: p3a_kl_divergence p3a_vae_loss
keeps: p3b_train_vae
(its train_vae is right: the loop is judged on its own, the KL error is not graded twice)
"""


def kl_divergence(mu1, log_sigma1, mu2, log_sigma2):
    return log_sigma1 - log_sigma2 + (torch.exp(2 * log_sigma2) + (mu1 - mu2) ** 2) / (2 * torch.exp(2 * log_sigma1)) - 0.5
