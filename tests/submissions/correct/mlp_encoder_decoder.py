"""Fully connected encoder and decoder instead of convolutions."""


class Encoder(nn.Module):
    def __init__(self, nz):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 400), nn.ReLU(), nn.Linear(400, 200), nn.ReLU(), nn.Linear(200, nz))

    def forward(self, x):
        return self.net(x)


class Decoder(nn.Module):
    def __init__(self, nz):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(nz, 200), nn.ReLU(), nn.Linear(200, 400), nn.ReLU(), nn.Linear(400, 784), nn.Sigmoid())

    def forward(self, z):
        return self.net(z).view(-1, 1, 28, 28)
