"""Reparameterisation that uses log sigma as if it were sigma: z = mu + log_sigma * eps.

loses: p3a_reparameterize
"""


class VAE(VAE):
    def reparameterize(self, mu, log_sigma):
        return mu + log_sigma * torch.randn_like(mu)
