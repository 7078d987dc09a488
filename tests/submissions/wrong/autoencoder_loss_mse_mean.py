"""An auto-encoder loop that uses nn.MSELoss() (a mean over pixels) as its loss.

loses: p2c_train_autoencoder
"""


def train_autoencoder(model, loader, epochs, lr, device):
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    criterion = nn.MSELoss()
    losses = []
    for _ in range(epochs):
        for x, _ in loader:
            x = x.to(device)
            loss = criterion(model(x), x)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses
