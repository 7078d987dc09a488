"""interpolate that blends the two reconstructions in pixel space instead of walking between codes.

loses: p4_interpolate
"""


@torch.no_grad()
def interpolate(model, x_start, x_end, steps):
    model.eval()
    images = torch.stack([x_start, x_end])
    codes = model.encoder(images)
    if isinstance(model, VAE):
        codes = codes[:, :model.nz]
    ends = model.decoder(codes)
    weights = torch.linspace(0, 1, steps).view(-1, 1, 1, 1)
    return (1 - weights) * ends[0] + weights * ends[1]
