"""Encoder and Decoder with every layer an attribute (no nn.Sequential) and a forward that calls them one by one; bare @torch.no_grad on VAE.reconstruct."""
# %% replace p2a_encoder_decoder_solution
class Encoder(nn.Module):
    """Strided convolutions: [B, 1, 28, 28] -> [B, nz]."""

    def __init__(self, nz: int):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=4, stride=2, padding=1)     # 28 -> 14
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=4, stride=2, padding=1)    # 14 -> 7
        self.bn2 = nn.BatchNorm2d(64)
        self.conv3 = nn.Conv2d(64, 128, kernel_size=3, stride=2, padding=1)   # 7 -> 4
        self.bn3 = nn.BatchNorm2d(128)
        self.conv4 = nn.Conv2d(128, 256, kernel_size=4, stride=1, padding=0)  # 4 -> 1
        self.bn4 = nn.BatchNorm2d(256)
        self.fc = nn.Linear(256, nz)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)))
        h = F.relu(self.bn3(self.conv3(h)))
        h = F.relu(self.bn4(self.conv4(h)))
        h = h.view(h.size(0), -1)          # [B, 256]
        return self.fc(h)


class Decoder(nn.Module):
    """Transposed convolutions: [B, nz] -> [B, 1, 28, 28] with values in [0, 1]."""

    def __init__(self, nz: int):
        super().__init__()
        self.fc = nn.Linear(nz, 256)
        self.deconv1 = nn.ConvTranspose2d(256, 128, kernel_size=4, stride=1, padding=0)  # 1 -> 4
        self.bn1 = nn.BatchNorm2d(128)
        self.deconv2 = nn.ConvTranspose2d(128, 64, kernel_size=3, stride=2, padding=1)   # 4 -> 7
        self.bn2 = nn.BatchNorm2d(64)
        self.deconv3 = nn.ConvTranspose2d(64, 32, kernel_size=4, stride=2, padding=1)    # 7 -> 14
        self.bn3 = nn.BatchNorm2d(32)
        self.deconv4 = nn.ConvTranspose2d(32, 1, kernel_size=4, stride=2, padding=1)     # 14 -> 28

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.fc(z))
        h = h.view(-1, 256, 1, 1)
        h = F.relu(self.bn1(self.deconv1(h)))
        h = F.relu(self.bn2(self.deconv2(h)))
        h = F.relu(self.bn3(self.deconv3(h)))
        return torch.sigmoid(self.deconv4(h))

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
        epsilon = torch.randn(mu.shape, device=mu.device, dtype=mu.dtype)
        z = mu + torch.exp(log_sigma) * epsilon
        return z

    def forward(self, x: torch.Tensor) -> dict:
        q = self.encoder(x)
        mu = q[:, :self.nz]
        log_sigma = q[:, self.nz:]
        z = self.reparameterize(mu, log_sigma)
        reconstruction = self.decoder(z)
        return {"q": q, "rec": reconstruction}

    def loss(self, x: torch.Tensor, outputs: dict) -> tuple:
        q, reconstruction = outputs["q"], outputs["rec"]
        mu = q[:, :self.nz]
        log_sigma = q[:, self.nz:]
        batch_size = x.shape[0]
        squared_error = (reconstruction - x) ** 2
        rec_loss = squared_error.view(batch_size, -1).sum(dim=1).mean()
        kl_per_unit = kl_divergence(mu, log_sigma, torch.zeros_like(mu), torch.zeros_like(log_sigma))
        kl_loss = kl_per_unit.sum(dim=1).mean()
        total = rec_loss + self.beta * kl_loss
        return total, {"rec_loss": rec_loss, "kl_loss": kl_loss}

    @torch.no_grad
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decode the posterior mean: deterministic, unlike forward()."""
        self.eval()
        q = self.encoder(x)
        return self.decoder(q[:, :self.nz])

    def sample(self, n: int, generator: torch.Generator = None) -> torch.Tensor:
        return sample_prior(self.decoder, n, self.nz, generator=generator)
