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


class _Identity784(nn.Module):
    """A decoder whose images are its codes: lets sample_prior's codes be read off its output."""
    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, z):
        return z.view(-1, 1, 28, 28) + 0 * self.dummy


class _CodeEncoder(nn.Module):
    """A fixed linear encoder with codes of unit scale."""
    def __init__(self, n_out):
        super().__init__()
        self.linear = nn.Linear(784, n_out)

    def forward(self, x):
        return 5 * self.linear(x.flatten(1))


class _CurvedDecoder(nn.Module):
    """A strongly non-linear decoder: blending two images is far from decoding a blend of codes."""
    def __init__(self, nz):
        super().__init__()
        self.linear = nn.Linear(nz, 784)

    def forward(self, z):
        return torch.sigmoid(4 * torch.sin(3 * self.linear(z))).view(-1, 1, 28, 28)
