"""Reparameterisation on detached mu and log sigma: no gradient reaches the encoder through z.

loses: p3a_reparameterize
"""


class VAE(VAE):
    def reparameterize(self, mu, log_sigma):
        return mu.detach() + torch.exp(log_sigma.detach()) * torch.randn_like(mu)
