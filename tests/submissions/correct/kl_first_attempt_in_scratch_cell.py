"""A wrong first kl_divergence (log sigma read as a log variance) in a scratch cell the student added; the solution cell below re-defines it correctly, and the last definition wins."""
# %% new cell after part3_intro
# first try (I thought log_sigma was log(sigma^2)) -- kept for reference, fixed in the cell below
def kl_divergence(mu1, log_sigma1, mu2, log_sigma2):
    return 0.5 * (log_sigma2 - log_sigma1 + (torch.exp(log_sigma1) + (mu1 - mu2) ** 2) / torch.exp(log_sigma2) - 1)


print(kl_divergence(torch.zeros(1), torch.ones(1), torch.zeros(1), torch.zeros(1)))   # should be 2.1945...

# %% replace p3a_kl_divergence_solution
def kl_divergence(mu1: torch.Tensor, log_sigma1: torch.Tensor,
                  mu2: torch.Tensor, log_sigma2: torch.Tensor) -> torch.Tensor:
    """Elementwise KL(N(mu1, sigma1^2) || N(mu2, sigma2^2))."""
    sigma1_sq = torch.exp(2 * log_sigma1)
    sigma2_sq = torch.exp(2 * log_sigma2)
    return (log_sigma2 - log_sigma1) + (sigma1_sq + (mu1 - mu2) ** 2) / (2 * sigma2_sq) - 0.5


print(kl_divergence(torch.zeros(1), torch.ones(1), torch.zeros(1), torch.zeros(1)))   # 2.1945 now
