"""Training loops with another structure: one flat loop over all batches, F.mse_loss(reduction='sum')."""
import itertools
from collections import defaultdict


def train_autoencoder(model, loader, epochs, lr, device):
    model = model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr)
    history = []
    batches = itertools.chain.from_iterable(itertools.repeat(loader, epochs))
    for images, _labels in tqdm(batches, total=epochs * len(loader)):
        images = images.to(device)
        opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(model(images), images, reduction="sum") / images.size(0)
        loss.backward()
        opt.step()
        history.append(float(loss.detach()))
    return history


def train_vae(model, loader, epochs, lr, device):
    model.to(device)
    optimizer = torch.optim.Adam(params=list(model.parameters()), lr=lr)
    logs = defaultdict(list)
    epoch = 0
    while epoch < epochs:
        model.train()
        for x, _ in loader:
            x = x.to(device)
            total, terms = model.loss(x, model.forward(x))
            optimizer.zero_grad()
            total.backward()
            optimizer.step()
            logs["loss"].append(total.item())
            for name, value in terms.items():
                logs[name].append(value.item())
        epoch += 1
    return dict(logs)
