"""`with torch.no_grad():` blocks instead of the decorator, in VAE.reconstruct, sample_prior and interpolate."""
# %% replace p2e_sample_prior_solution
def sample_prior(decoder: nn.Module, n: int, nz: int, generator: torch.Generator = None) -> torch.Tensor:
    """Decode n codes drawn from the unit Gaussian prior N(0, I)."""
    decoder.eval()
    device = next(decoder.parameters()).device
    with torch.no_grad():
        z = torch.randn(n, nz, generator=generator)
        images = decoder(z.to(device))
    return images

# %% replace p3a_vae_solution
class VAE(nn.Module):
    """A VAE with a diagonal Gaussian posterior and a unit Gaussian prior."""

    def __init__(self, nz: int, beta: float = 1.0):
        super().__init__()
        self.nz = nz
        self.beta = beta
        self.encoder = Encoder(2 * nz)   # outputs mu and log_sigma
        self.decoder = Decoder(nz)

    def reparameterize(self, mu: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
        sigma = log_sigma.exp()
        eps = torch.randn_like(sigma)
        return mu + sigma * eps

    def forward(self, x: torch.Tensor) -> dict:
        q = self.encoder(x)
        mu, log_sigma = torch.split(q, self.nz, dim=1)
        z = self.reparameterize(mu, log_sigma)
        return {"q": q, "rec": self.decoder(z)}

    def loss(self, x: torch.Tensor, outputs: dict) -> tuple:
        mu, log_sigma = torch.split(outputs["q"], self.nz, dim=1)
        rec_loss = (outputs["rec"] - x).pow(2).sum(dim=[1, 2, 3]).mean()
        kl_loss = kl_divergence(mu, log_sigma, torch.zeros_like(mu), torch.zeros_like(log_sigma)).sum(dim=1).mean()
        total = rec_loss + self.beta * kl_loss
        return total, {"rec_loss": rec_loss, "kl_loss": kl_loss}

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decode the posterior mean: deterministic, unlike forward()."""
        self.eval()
        with torch.no_grad():
            mu = self.encoder(x)[:, :self.nz]
            return self.decoder(mu)

    def sample(self, n: int, generator: torch.Generator = None) -> torch.Tensor:
        return sample_prior(self.decoder, n, self.nz, generator=generator)

# %% replace p4_interpolate_solution
def interpolate(model: nn.Module, x_start: torch.Tensor, x_end: torch.Tensor, steps: int) -> torch.Tensor:
    """Decode `steps` points on the straight line between the codes of two images."""
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad():
        z_start = model.encoder(x_start.unsqueeze(0).to(device))
        z_end = model.encoder(x_end.unsqueeze(0).to(device))
        if isinstance(model, VAE):
            z_start, z_end = z_start[:, :model.nz], z_end[:, :model.nz]
        alphas = torch.linspace(0, 1, steps, device=device).unsqueeze(1)
        path = z_start + alphas * (z_end - z_start)
        out = model.decoder(path)
    return out
