"""Reparameterisation through torch.distributions.Normal(...).rsample()."""


class VAE(VAE):
    def reparameterize(self, mu, log_sigma):
        return torch.distributions.Normal(mu, log_sigma.exp()).rsample()
