"""Fewer channels (16-32-64), 3x3 kernels, ELU activations and no BatchNorm."""


class Encoder(nn.Module):
    def __init__(self, nz):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ELU(),    # 14
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ELU(),   # 7
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ELU(),   # 4
        )
        self.fc = nn.Linear(64 * 4 * 4, nz)

    def forward(self, x):
        return self.fc(self.conv(x).flatten(1))


class Decoder(nn.Module):
    def __init__(self, nz):
        super().__init__()
        self.fc = nn.Linear(nz, 64 * 4 * 4)
        self.deconv = nn.Sequential(
            nn.ELU(),
            nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1), nn.ELU(),                    # 7
            nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1), nn.ELU(),                    # 14
            nn.ConvTranspose2d(16, 1, 4, stride=2, padding=1), nn.Sigmoid(),                 # 28
        )

    def forward(self, z):
        return self.deconv(self.fc(z).view(-1, 64, 4, 4))
