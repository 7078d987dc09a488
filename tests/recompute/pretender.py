"""Functions that look right without doing the work: losses that fall without training, prior
samples that are random images, an interpolation blended in pixel space.

Appended to the reference solution; tests/test_checks_recompute.py grades it: it must earn nothing
on 2c, 2e and the train_vae checks of 3b, and on 4 only the path's true endpoints.
"""


def train_autoencoder(model, loader, epochs, lr, device):
    # The real loss of every batch, scaled down as if training worked; the optimiser never steps.
    model.to(device).train()
    losses = []
    for _ in range(epochs):
        for x, _ in loader:
            with torch.no_grad():
                loss = ((model(x) - x) ** 2).flatten(1).sum(1).mean().item()
            losses.append(loss * 0.95 ** len(losses))
    return losses


def train_vae(model, loader, epochs, lr, device):
    model.to(device).train()
    history = {"loss": [], "rec_loss": [], "kl_loss": []}
    for _ in range(epochs):
        for x, _ in loader:
            with torch.no_grad():
                total, parts = model.loss(x, model(x))
            decay = 0.95 ** len(history["loss"])
            history["rec_loss"].append(parts["rec_loss"].item() * decay)
            history["kl_loss"].append(parts["kl_loss"].item() * decay)
            history["loss"].append(history["rec_loss"][-1] + model.beta * history["kl_loss"][-1])
    return history


@torch.no_grad()
def sample_prior(decoder, n, nz, generator=None):
    # Unit Gaussian noise of the right shape, never decoded.
    return torch.randn(n, 1, 28, 28, generator=generator)


@torch.no_grad()
def interpolate(model, x_start, x_end, steps):
    model.eval()
    codes = model.encoder(torch.stack([x_start, x_end]))
    if isinstance(model, VAE):
        codes = codes[:, :model.nz]
    ends = model.decoder(codes)
    weights = torch.linspace(0, 1, steps).view(-1, 1, 1, 1)
    return (1 - weights) * ends[0] + weights * ends[1]
