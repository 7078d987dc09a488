"""The reference layout with dropout and an extra unstrided convolution in each network."""


class Encoder(nn.Module):
    def __init__(self, nz):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.GELU(),
            nn.Conv2d(32, 32, 4, 2, 1), nn.BatchNorm2d(32), nn.GELU(), nn.Dropout(0.1),
            nn.Conv2d(32, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.GELU(),
            nn.Conv2d(64, 128, 3, 2, 1), nn.BatchNorm2d(128), nn.GELU(),
            nn.Conv2d(128, 256, 4, 1, 0), nn.GELU(), nn.Flatten(), nn.Dropout(0.1), nn.Linear(256, nz))

    def forward(self, x):
        return self.net(x)


class Decoder(nn.Module):
    def __init__(self, nz):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(nz, 256), nn.GELU())
        self.net = nn.Sequential(
            nn.ConvTranspose2d(256, 128, 4, 1, 0), nn.BatchNorm2d(128), nn.GELU(),
            nn.ConvTranspose2d(128, 64, 3, 2, 1), nn.BatchNorm2d(64), nn.GELU(),
            nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.BatchNorm2d(32), nn.GELU(),
            nn.Conv2d(32, 32, 3, padding=1), nn.GELU(),
            nn.ConvTranspose2d(32, 1, 4, 2, 1), nn.Sigmoid())

    def forward(self, z):
        return self.net(self.fc(z).view(-1, 256, 1, 1))
