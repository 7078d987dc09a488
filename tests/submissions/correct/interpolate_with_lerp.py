"""interpolate with a Python loop and torch.lerp, telling a VAE by its beta attribute."""


def interpolate(model, x_start, x_end, steps):
    model.eval()
    with torch.no_grad():
        codes = model.encoder(torch.stack([x_start, x_end]))
        if hasattr(model, "beta"):
            codes = codes[:, : codes.shape[1] // 2]
        frames = [model.decoder(torch.lerp(codes[0:1], codes[1:2], i / (steps - 1))) for i in range(steps)]
    return torch.cat(frames)
