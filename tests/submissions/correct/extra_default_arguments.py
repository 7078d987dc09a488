"""Extra keyword arguments with defaults everywhere: Encoder(nz, channels=32, activation=nn.ReLU), train loops with grad_clip, sample_prior with temperature."""
# %% replace p2a_encoder_decoder_solution
class Encoder(nn.Module):
    """Strided convolutions: [B, 1, 28, 28] -> [B, nz]; widths channels, 2x, 4x, 8x."""

    def __init__(self, nz: int, channels: int = 32, activation=nn.ReLU, batch_norm: bool = True):
        super().__init__()
        widths = [1, channels, 2 * channels, 4 * channels, 8 * channels]
        shapes = [(4, 2, 1), (4, 2, 1), (3, 2, 1), (4, 1, 0)]        # 28 -> 14 -> 7 -> 4 -> 1
        layers = []
        for cin, cout, (k, s, p) in zip(widths[:-1], widths[1:], shapes):
            layers.append(nn.Conv2d(cin, cout, k, s, p))
            if batch_norm:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(activation())
        self.features = nn.Sequential(*layers)
        self.linear = nn.Linear(widths[-1], nz)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(torch.flatten(self.features(x), 1))


class Decoder(nn.Module):
    """Transposed convolutions: [B, nz] -> [B, 1, 28, 28] with values in [0, 1]."""

    def __init__(self, nz: int, channels: int = 32, activation=nn.ReLU, batch_norm: bool = True):
        super().__init__()
        self.top = 8 * channels
        self.linear = nn.Linear(nz, self.top)
        widths = [8 * channels, 4 * channels, 2 * channels, channels]
        shapes = [(4, 1, 0), (3, 2, 1), (4, 2, 1)]                    # 1 -> 4 -> 7 -> 14
        layers = [activation()]
        for cin, cout, (k, s, p) in zip(widths[:-1], widths[1:], shapes):
            layers.append(nn.ConvTranspose2d(cin, cout, k, s, p))
            if batch_norm:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(activation())
        layers += [nn.ConvTranspose2d(channels, 1, 4, 2, 1), nn.Sigmoid()]   # 14 -> 28
        self.features = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.features(self.linear(z).view(z.shape[0], self.top, 1, 1))

# %% replace p2c_train_autoencoder_solution
def train_autoencoder(model: nn.Module, loader: DataLoader, epochs: int, lr: float,
                      device: torch.device, grad_clip: float = None, progress: bool = True) -> list:
    """Train `model` to reconstruct the images of `loader`; return the loss of every iteration."""
    model.to(device)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for epoch in range(epochs):
        for x, _ in tqdm(loader, desc=f"AE epoch {epoch + 1}/{epochs}", disable=not progress):
            x = x.to(device)
            loss = ((model(x) - x) ** 2).reshape(len(x), -1).sum(1).mean()
            optimizer.zero_grad()
            loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
            losses.append(loss.item())
    return losses

# %% replace p2e_sample_prior_solution
@torch.no_grad()
def sample_prior(decoder: nn.Module, n: int, nz: int, generator: torch.Generator = None,
                 temperature: float = 1.0) -> torch.Tensor:
    """Decode n codes drawn from the prior N(0, temperature^2 I) (temperature 1: the unit Gaussian)."""
    decoder.eval()
    device = next(decoder.parameters()).device
    z = temperature * torch.randn(n, nz, generator=generator)
    return decoder(z.to(device))

# %% replace p3b_train_vae_solution
def train_vae(model: nn.Module, loader: DataLoader, epochs: int, lr: float, device: torch.device,
              grad_clip: float = None, progress: bool = True) -> dict:
    """Train a VAE with its own loss; return the per-iteration history of each loss term."""
    model.to(device)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = {"loss": [], "rec_loss": [], "kl_loss": []}
    for epoch in range(epochs):
        for x, _ in tqdm(loader, desc=f"VAE epoch {epoch + 1}/{epochs}", disable=not progress):
            x = x.to(device)
            total, parts = model.loss(x, model(x))
            optimizer.zero_grad()
            total.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
            history["loss"].append(total.item())
            for key in ("rec_loss", "kl_loss"):
                history[key].append(parts[key].item())
    return history

# %% replace p4_interpolate_solution
@torch.no_grad()
def interpolate(model: nn.Module, x_start: torch.Tensor, x_end: torch.Tensor, steps: int,
                return_codes: bool = False):
    """Decode `steps` points on the straight line between the codes of two images.

    return_codes=True also returns the path in latent space, [steps, nz] (I used it to plot the path).
    """
    model.eval()
    device = next(model.parameters()).device
    codes = model.encoder(torch.stack([x_start, x_end]).to(device))
    if isinstance(model, VAE):
        codes = codes[:, :model.nz]
    weights = torch.linspace(0, 1, steps, device=device)[:, None]
    path = torch.lerp(codes[0:1], codes[1:2], weights)
    images = model.decoder(path)
    return (images, path) if return_codes else images
