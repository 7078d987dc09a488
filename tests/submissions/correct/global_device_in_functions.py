"""The setup cell's DEVICE used inside the functions (.to(DEVICE) in sample_prior, reparameterize and interpolate) instead of asking the model for its device."""
# %% replace p2e_sample_prior_solution
@torch.no_grad()
def sample_prior(decoder: nn.Module, n: int, nz: int, generator: torch.Generator = None) -> torch.Tensor:
    """Decode n codes drawn from the unit Gaussian prior N(0, I)."""
    decoder.eval()
    z = torch.randn((n, nz), generator=generator)
    return decoder(z.to(DEVICE))

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
        epsilon = torch.randn(mu.shape).to(DEVICE)
        return mu + epsilon * log_sigma.exp()

    def forward(self, x: torch.Tensor) -> dict:
        q = self.encoder(x.to(DEVICE))
        mu, log_sigma = q.chunk(2, dim=1)
        return {"q": q, "rec": self.decoder(self.reparameterize(mu, log_sigma))}

    def loss(self, x: torch.Tensor, outputs: dict) -> tuple:
        x = x.to(DEVICE)
        mu, log_sigma = outputs["q"].chunk(2, dim=1)
        rec_loss = F.mse_loss(outputs["rec"], x, reduction="none").sum(dim=(1, 2, 3)).mean()
        kl_loss = kl_divergence(mu, log_sigma, torch.zeros_like(mu), torch.zeros_like(log_sigma)).sum(-1).mean()
        return rec_loss + self.beta * kl_loss, {"rec_loss": rec_loss, "kl_loss": kl_loss}

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decode the posterior mean: deterministic, unlike forward()."""
        self.eval()
        return self.decoder(self.encoder(x)[:, :self.nz])

    def sample(self, n: int, generator: torch.Generator = None) -> torch.Tensor:
        return sample_prior(self.decoder, n, self.nz, generator=generator)

# %% replace p4_interpolate_solution
@torch.no_grad()
def interpolate(model: nn.Module, x_start: torch.Tensor, x_end: torch.Tensor, steps: int) -> torch.Tensor:
    """Decode `steps` points on the straight line between the codes of two images."""
    model.eval()
    pair = torch.cat([x_start.unsqueeze(0), x_end.unsqueeze(0)]).to(DEVICE)
    codes = model.encoder(pair)
    if isinstance(model, VAE):
        codes = codes[:, :model.nz]
    return model.decoder(torch.stack([codes[0] + (codes[1] - codes[0]) * (i / max(steps - 1, 1)) for i in range(steps)]))
