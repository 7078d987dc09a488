"""train_vae that logs the loss tensors themselves instead of Python floats.

loses: p3b_train_vae
"""


def train_vae(model, loader, epochs, lr, device):
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = {"loss": [], "rec_loss": [], "kl_loss": []}
    for _ in range(epochs):
        for x, _ in loader:
            x = x.to(device)
            total, parts = model.loss(x, model(x))
            optimizer.zero_grad()
            total.backward()
            optimizer.step()
            history["loss"].append(total)
            history["rec_loss"].append(parts["rec_loss"])
            history["kl_loss"].append(parts["kl_loss"])
    return history
