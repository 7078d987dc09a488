"""Module-level constants and a global `dev` in an added cell: sample_prior and interpolate move codes with .to(dev)."""
# %% new cell after setup
# My settings, in one place.
dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
CHANNELS = (32, 64, 128, 256)   # encoder widths, 28 -> 14 -> 7 -> 4 -> 1
LEAK = 0.2                      # LeakyReLU slope
CHOSEN = 1.0                    # the beta I settled on in 3d (see the figures there)
print("my device:", dev)

# %% replace p2a_encoder_decoder_solution
class Encoder(nn.Module):
    """Strided convolutions: [B, 1, 28, 28] -> [B, nz]."""

    def __init__(self, nz: int):
        super().__init__()
        c1, c2, c3, c4 = CHANNELS
        self.net = nn.Sequential(
            nn.Conv2d(1, c1, 4, 2, 1), nn.BatchNorm2d(c1), nn.LeakyReLU(LEAK),
            nn.Conv2d(c1, c2, 4, 2, 1), nn.BatchNorm2d(c2), nn.LeakyReLU(LEAK),
            nn.Conv2d(c2, c3, 3, 2, 1), nn.BatchNorm2d(c3), nn.LeakyReLU(LEAK),
            nn.Conv2d(c3, c4, 4, 1, 0), nn.BatchNorm2d(c4), nn.LeakyReLU(LEAK),
            nn.Flatten(),
            nn.Linear(c4, nz),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Decoder(nn.Module):
    """Transposed convolutions: [B, nz] -> [B, 1, 28, 28] with values in [0, 1]."""

    def __init__(self, nz: int):
        super().__init__()
        c1, c2, c3, c4 = CHANNELS
        self.fc = nn.Linear(nz, c4)
        self.net = nn.Sequential(
            nn.BatchNorm2d(c4), nn.ReLU(),
            nn.ConvTranspose2d(c4, c3, 4, 1, 0), nn.BatchNorm2d(c3), nn.ReLU(),
            nn.ConvTranspose2d(c3, c2, 3, 2, 1), nn.BatchNorm2d(c2), nn.ReLU(),
            nn.ConvTranspose2d(c2, c1, 4, 2, 1), nn.BatchNorm2d(c1), nn.ReLU(),
            nn.ConvTranspose2d(c1, 1, 4, 2, 1),
            nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.fc(z).view(-1, CHANNELS[-1], 1, 1))

# %% replace p2c_train_autoencoder_solution
def train_autoencoder(model: nn.Module, loader: DataLoader, epochs: int, lr: float,
                      device: torch.device) -> list:
    """Train `model` to reconstruct the images of `loader`; return the loss of every iteration."""
    model = model.to(device)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for epoch in range(epochs):
        for x, _ in tqdm(loader, desc=f"epoch {epoch + 1}"):
            x = x.to(device)
            x_hat = model(x)
            loss = ((x_hat - x) ** 2).sum(dim=(1, 2, 3)).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses

# %% replace p2e_sample_prior_solution
@torch.no_grad()
def sample_prior(decoder: nn.Module, n: int, nz: int, generator: torch.Generator = None) -> torch.Tensor:
    """Decode n codes drawn from the unit Gaussian prior N(0, I)."""
    decoder.eval()
    z = torch.randn(n, nz, generator=generator).to(dev)
    return decoder(z)

# %% replace p3b_train_vae_solution
def train_vae(model: nn.Module, loader: DataLoader, epochs: int, lr: float, device: torch.device) -> dict:
    """Train a VAE with its own loss; return the per-iteration history of each loss term."""
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = {"loss": [], "rec_loss": [], "kl_loss": []}
    for epoch in range(epochs):
        for x, _ in tqdm(loader, desc=f"VAE epoch {epoch + 1}"):
            x = x.to(device)
            loss, parts = model.loss(x, model(x))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history["loss"].append(loss.item())
            history["rec_loss"].append(parts["rec_loss"].item())
            history["kl_loss"].append(parts["kl_loss"].item())
    return history

# %% replace p3d_tuning_solution
BETA_CANDIDATES = [0.01, 0.1, 1.0, 10.0]
tuned_vaes = {}
for beta in BETA_CANDIDATES:
    torch.manual_seed(SEED)
    tuned_vaes[beta] = VAE(NZ, beta=beta).to(DEVICE)
    train_vae(tuned_vaes[beta], train_loader, epochs=TUNE_EPOCHS, lr=LR, device=DEVICE)
# From the figures: 1.0 keeps a moderate KL and gives digit-like samples; 10 collapses.
best_beta = CHOSEN

# %% replace p4_interpolate_solution
@torch.no_grad()
def interpolate(model: nn.Module, x_start: torch.Tensor, x_end: torch.Tensor, steps: int) -> torch.Tensor:
    """Decode `steps` points on the straight line between the codes of two images."""
    model.eval()
    x = torch.stack([x_start, x_end]).to(dev)          # [2, 1, 28, 28]
    codes = model.encoder(x)
    if isinstance(model, VAE):
        codes = codes[:, :model.nz]                    # the posterior means
    t = torch.linspace(0.0, 1.0, steps).to(dev).view(-1, 1)
    return model.decoder(codes[0] + t * (codes[1] - codes[0]))
