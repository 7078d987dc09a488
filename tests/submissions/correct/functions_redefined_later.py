"""Functions re-defined in later cells the student added: a wrong kl_divergence before 3a, the right one in the solution cell, a tidier one after Check 3a, and a second sample_prior after 2e."""
# %% new cell after p2e_sample_prior
# sample_prior, second version: leaves the decoder in the mode it found it in (the last definition is the one used)
def sample_prior(decoder, n, nz, generator=None):
    was_training = decoder.training
    decoder.eval()
    with torch.no_grad():
        codes = torch.randn(n, nz, generator=generator)
        images = decoder(codes.to(next(decoder.parameters()).device))
    decoder.train(was_training)
    return images

# %% new cell after part3_intro
# scratch: KL without the 1/2 on the variance term (wrong, see below)
def kl_divergence(mu1, log_sigma1, mu2, log_sigma2):
    return log_sigma2 - log_sigma1 + (torch.exp(2 * log_sigma1) + (mu1 - mu2) ** 2) / torch.exp(2 * log_sigma2) - 0.5

# %% replace p3a_kl_divergence_solution
def kl_divergence(mu1: torch.Tensor, log_sigma1: torch.Tensor,
                  mu2: torch.Tensor, log_sigma2: torch.Tensor) -> torch.Tensor:
    """Elementwise KL(N(mu1, sigma1^2) || N(mu2, sigma2^2))."""
    variance_ratio = torch.exp(2 * (log_sigma1 - log_sigma2))
    mean_term = (mu1 - mu2) ** 2 / torch.exp(2 * log_sigma2)
    return log_sigma2 - log_sigma1 + 0.5 * (variance_ratio + mean_term) - 0.5

# %% new cell after p3a_kl_divergence
# same formula, written with the log of the variance ratio (the version the rest of the notebook uses)
def kl_divergence(mu1, log_sigma1, mu2, log_sigma2):
    log_ratio = 2 * (log_sigma1 - log_sigma2)            # log(sigma1^2 / sigma2^2)
    return 0.5 * (torch.exp(log_ratio) + (mu1 - mu2) ** 2 * torch.exp(-2 * log_sigma2) - 1 - log_ratio)


assert torch.allclose(kl_divergence(torch.zeros(3), torch.ones(3), torch.zeros(3), torch.zeros(3)), torch.tensor(2.194528))
