"""A Trainer class in a cell the student added before 2c; train_autoencoder and train_vae are thin wrappers around it; best_beta = sorted(BETA_CANDIDATES)[2]."""
# %% new cell after part2c_intro
class Trainer:
    """One training loop for both models.

    `step_loss(model, x)` returns (loss to minimise, {name: scalar tensor to log}); the history
    keeps every iteration's value of 'loss' and of each logged name, as Python floats.
    """

    def __init__(self, model, step_loss, lr, device, desc="training"):
        self.device = device
        self.model = model.to(device)
        self.step_loss = step_loss
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.desc = desc
        self.history = {"loss": []}

    def train_step(self, x):
        x = x.to(self.device)
        loss, logs = self.step_loss(self.model, x)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.history["loss"].append(loss.item())
        for name, value in logs.items():
            self.history.setdefault(name, []).append(value.item())
        return loss.item()

    def fit(self, loader, epochs):
        self.model.train()
        for epoch in range(epochs):
            bar = tqdm(loader, desc=f"{self.desc} {epoch + 1}/{epochs}", leave=False)
            for x, _ in bar:
                bar.set_postfix(loss=f"{self.train_step(x):.1f}")
        return self.history


def ae_step_loss(model, x):
    """Squared error summed over the pixels of each image, averaged over the batch."""
    return ((model(x) - x) ** 2).flatten(1).sum(1).mean(), {}


def vae_step_loss(model, x):
    return model.loss(x, model(x))

# %% replace p2c_train_autoencoder_solution
def train_autoencoder(model: nn.Module, loader: DataLoader, epochs: int, lr: float,
                      device: torch.device) -> list:
    """Train `model` to reconstruct the images of `loader`; return the loss of every iteration."""
    trainer = Trainer(model, ae_step_loss, lr, device, desc="AE epoch")
    return trainer.fit(loader, epochs)["loss"]

# %% replace p3b_train_vae_solution
def train_vae(model: nn.Module, loader: DataLoader, epochs: int, lr: float, device: torch.device) -> dict:
    """Train a VAE with its own loss; return the per-iteration history of each loss term."""
    trainer = Trainer(model, vae_step_loss, lr, device, desc=f"VAE beta={model.beta}")
    history = trainer.fit(loader, epochs)
    return {"loss": history["loss"], "rec_loss": history["rec_loss"], "kl_loss": history["kl_loss"]}

# %% replace p3d_tuning_solution
BETA_CANDIDATES = [0.01, 0.1, 1.0, 10.0]
tuned_vaes = {}
for beta in BETA_CANDIDATES:
    torch.manual_seed(SEED)
    tuned_vaes[beta] = VAE(NZ, beta=beta)
    Trainer(tuned_vaes[beta], vae_step_loss, LR, DEVICE, desc=f"tuning beta={beta}").fit(train_loader, TUNE_EPOCHS)
# The third smallest candidate, 1: moderate KL, recognisable reconstructions, digit-like samples.
best_beta = sorted(BETA_CANDIDATES)[2]
