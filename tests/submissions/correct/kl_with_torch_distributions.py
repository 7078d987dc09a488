"""KL through torch.distributions.kl_divergence."""


def kl_divergence(mu1, log_sigma1, mu2, log_sigma2):
    return torch.distributions.kl_divergence(torch.distributions.Normal(mu1, log_sigma1.exp()),
                                             torch.distributions.Normal(mu2, log_sigma2.exp()))
