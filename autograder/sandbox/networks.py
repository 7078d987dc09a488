"""Fixed networks that both sides use: the probes (inside the sandbox) and the checks (in the grader).

The probes build the student's models on these networks; the checks build the same networks
in the grading process to recompute what they judge from raw weights and outputs. This file is
shipped to the child as source text before probes.py, so it may import only torch and the
standard library.
"""
import torch
import torch.nn as nn


class ReferenceEncoder(nn.Module):
    """The architecture the beta checks were calibrated on (the reference solution's)."""

    def __init__(self, nz):
        super().__init__()
        layers, channels = [], [1, 32, 64, 128, 256]
        for (cin, cout), (kernel, stride, padding) in zip(zip(channels, channels[1:]), [(4, 2, 1), (4, 2, 1), (3, 2, 1), (4, 1, 0)]):
            layers += [nn.Conv2d(cin, cout, kernel, stride, padding), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(256, nz))

    def forward(self, x):
        return self.net(x)


class ReferenceDecoder(nn.Module):
    """The decoder the beta checks were calibrated on (the reference solution's)."""

    def __init__(self, nz):
        super().__init__()
        self.fc = nn.Linear(nz, 256)
        layers, channels = [nn.BatchNorm2d(256), nn.ReLU()], [256, 128, 64, 32]
        for (cin, cout), (kernel, stride, padding) in zip(zip(channels, channels[1:]), [(4, 1, 0), (3, 2, 1), (4, 2, 1)]):
            layers += [nn.ConvTranspose2d(cin, cout, kernel, stride, padding), nn.BatchNorm2d(cout), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.ConvTranspose2d(32, 1, 4, 2, 1), nn.Sigmoid())

    def forward(self, z):
        return self.net(self.fc(z).view(-1, 256, 1, 1))


class LightEncoder(nn.Module):
    """A light encoder for the beta = 0 and best_beta regimes: one hidden layer of 512 (784-512-nz).

    About a tenth of ReferenceEncoder's arithmetic, and it learns the useful regimes at least as
    fast (calibrate.py), so these checks cost a second instead of fifteen. Without BatchNorm.
    """

    def __init__(self, nz):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.LeakyReLU(), nn.Linear(512, nz))

    def forward(self, x):
        return self.net(x)


class LightDecoder(nn.Module):
    """The decoder paired with LightEncoder (nz-512-784, sigmoid outputs).

    Not used at beta = 10: a collapsed MLP decoder trained on prior noise decodes the posterior
    mean z = 0 off its training distribution (far from the mean image), so the collapse checks
    keep the reference networks, on which they were calibrated.
    """

    def __init__(self, nz):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(nz, 512), nn.ReLU(), nn.Linear(512, 784), nn.Sigmoid())

    def forward(self, z):
        return self.net(z).view(-1, 1, 28, 28)


# The networks a regime may be trained on (probes.vae_regime, regimes.measure), by name.
REGIME_NETWORKS = {"reference": (ReferenceEncoder, ReferenceDecoder), "light": (LightEncoder, LightDecoder)}


class ReferenceVAE(nn.Module):
    """The course's VAE, built as the reference solution builds it: what train_vae is checked on.

    The 3b loop check judges the loop alone: trained on this model, a correct loop passes whatever
    the student's own VAE does (its KL, reparameterisation and loss are graded in 3a and by the
    beta runs, not a second time here), and the grader's measure of the returned weights is the
    objective the loop optimised.
    """

    def __init__(self, nz, beta=1.0):
        super().__init__()
        self.nz, self.beta = nz, beta
        self.encoder = ReferenceEncoder(2 * nz)
        self.decoder = ReferenceDecoder(nz)

    def reparameterize(self, mu, log_sigma):
        return mu + torch.exp(log_sigma) * torch.randn_like(mu)

    def forward(self, x):
        q = self.encoder(x)
        return {"q": q, "rec": self.decoder(self.reparameterize(q[:, :self.nz], q[:, self.nz:]))}

    def loss(self, x, outputs):
        mu, log_sigma = outputs["q"][:, :self.nz], outputs["q"][:, self.nz:]
        rec_loss = ((outputs["rec"] - x) ** 2).flatten(start_dim=1).sum(dim=1).mean()
        kl_loss = (0.5 * (mu ** 2 + torch.exp(2 * log_sigma)) - log_sigma - 0.5).sum(dim=1).mean()
        return rec_loss + self.beta * kl_loss, {"rec_loss": rec_loss, "kl_loss": kl_loss}

    @torch.no_grad()
    def reconstruct(self, x):
        self.eval()
        return self.decoder(self.encoder(x)[:, :self.nz])


class _InvertibleDecoder(nn.Module):
    """A non-linear decoder that the grader inverts exactly: images = scale * g(z @ basis.T) + shift, g(u) = u + sin(u) / 2.

    `basis` is [784, nz] with orthonormal columns (the grader's, from its seed) and g is monotone
    (g' = 1 + cos(u) / 2 >= 1/2), so decode_codes() reads the codes back from the images, and
    images that no code decodes to (torch.randn images, say) are told apart by their part
    outside the basis's span. The basis is a parameter, so next(decoder.parameters()) works.
    """
    def __init__(self, basis, scale, shift):
        super().__init__()
        self.basis = nn.Parameter(basis.clone())
        self.scale, self.shift = float(scale), float(shift)

    def forward(self, z):
        u = z @ self.basis.T
        return (self.scale * (u + 0.5 * torch.sin(u)) + self.shift).view(-1, 1, 28, 28)


def decode_codes(images, basis, scale, shift):
    """Invert _InvertibleDecoder: (codes [n, nz], largest part of any image outside what a code decodes to).

    Runs in the grading process on the grader's own basis. g(v) = u has its root within 1/2 of u
    (|g(v) - v| <= 1/2), found by bisection in double precision, then polished by Newton steps.
    """
    u = (images.double().flatten(1) - shift) / scale
    low, high = u - 0.5, u + 0.5
    for _ in range(60):
        middle = (low + high) / 2
        below = middle + 0.5 * torch.sin(middle) < u
        low, high = torch.where(below, middle, low), torch.where(below, high, middle)
    v = (low + high) / 2
    for _ in range(3):
        v = v - (v + 0.5 * torch.sin(v) - u) / (1 + 0.5 * torch.cos(v))
    basis = basis.double()
    codes = v @ basis
    return codes, (v - codes @ basis.T).abs().max().item()


class _CodeEncoder(nn.Module):
    """A fixed linear encoder with codes of unit scale."""
    def __init__(self, n_out):
        super().__init__()
        self.linear = nn.Linear(784, n_out)

    def forward(self, x):
        return 5 * self.linear(x.flatten(1))


def _curve(u):
    return 2 * u + 0.6 * torch.sin(3 * u)   # monotone (slope >= 0.2), far from linear


class _CurvedDecoder(nn.Module):
    """A strongly non-linear decoder: blending two images is far from decoding a blend of codes.

    images = sigmoid(h(linear(z))) with h(u) = 2u + 0.6 sin(3u) monotone, so the grader can tell
    whether an image is one this decoder makes (curved_codes), as a blend of two of them is not.
    """
    def __init__(self, nz):
        super().__init__()
        self.linear = nn.Linear(nz, 784)

    def forward(self, z):
        return torch.sigmoid(_curve(self.linear(z))).view(-1, 1, 28, 28)


def curved_codes(images, decoder):
    """Invert _CurvedDecoder `decoder` (the grader's copy): (codes [n, nz], per image the largest part outside its outputs).

    Runs in the grading process: logit, then h inverted by bisection (|h(u) - 2u| <= 0.6), then the
    codes by least squares on the decoder's weights; what least squares leaves is the image's
    distance from anything the decoder makes (float32 decoding leaves about 1e-5).
    """
    p = images.double().flatten(1)
    outside = ~((p > 0) & (p < 1)).all(1)
    y = torch.logit(p.clamp(1e-12, 1 - 1e-12))
    low, high = (y - 0.6) / 2, (y + 0.6) / 2
    for _ in range(60):
        middle = (low + high) / 2
        below = _curve(middle) < y
        low, high = torch.where(below, middle, low), torch.where(below, high, middle)
    weight, bias = decoder.linear.weight.detach().double(), decoder.linear.bias.detach().double()
    u = (low + high) / 2 - bias
    codes = torch.linalg.lstsq(weight, u.T).solution.T
    off = (u - codes @ weight.T).abs().max(1).values
    return codes, torch.where(outside, torch.full_like(off, float("inf")), off)
