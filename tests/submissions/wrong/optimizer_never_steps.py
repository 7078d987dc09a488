"""An auto-encoder loop that computes gradients but never calls optimizer.step().

loses: p2c_train_autoencoder
"""


def train_autoencoder(model, loader, epochs, lr, device):
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        for x, _ in loader:
            x = x.to(device)
            loss = ((model(x) - x) ** 2).flatten(1).sum(1).mean()
            optimizer.zero_grad()
            loss.backward()
            losses.append(loss.item())
    return losses
