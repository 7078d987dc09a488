"""conv_block / deconv_block helpers in a cell the student added before 2a, used by Encoder and Decoder."""
# %% new cell after part2_intro
# My helpers for 2a: one strided (transposed) convolution, BatchNorm and an activation.
def conv_block(cin, cout, kernel_size, stride, padding):
    """Conv2d -> BatchNorm2d -> LeakyReLU."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel_size=kernel_size, stride=stride, padding=padding),
        nn.BatchNorm2d(cout),
        nn.LeakyReLU(0.2),
    )


def deconv_block(cin, cout, kernel_size, stride, padding):
    """ConvTranspose2d -> BatchNorm2d -> ReLU."""
    return nn.Sequential(
        nn.ConvTranspose2d(cin, cout, kernel_size=kernel_size, stride=stride, padding=padding),
        nn.BatchNorm2d(cout),
        nn.ReLU(),
    )


class Reshape(nn.Module):
    """Reshape a batch to [B, *shape] (nn.Unflatten would do the same)."""

    def __init__(self, *shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.view(x.shape[0], *self.shape)


print(conv_block(1, 32, 4, 2, 1)(torch.zeros(2, 1, 28, 28)).shape)   # quick test: [2, 32, 14, 14]

# %% replace p2a_encoder_decoder_solution
class Encoder(nn.Module):
    """Strided convolutions: [B, 1, 28, 28] -> [B, nz]."""

    def __init__(self, nz: int):
        super().__init__()
        self.features = nn.Sequential(
            conv_block(1, 32, 4, 2, 1),     # 28 -> 14
            conv_block(32, 64, 4, 2, 1),    # 14 -> 7
            conv_block(64, 128, 3, 2, 1),   # 7 -> 4
            conv_block(128, 256, 4, 1, 0),  # 4 -> 1
        )
        self.head = nn.Linear(256, nz)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(start_dim=1))


class Decoder(nn.Module):
    """Transposed convolutions: [B, nz] -> [B, 1, 28, 28] with values in [0, 1]."""

    def __init__(self, nz: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(nz, 256),
            Reshape(256, 1, 1),
            nn.BatchNorm2d(256), nn.ReLU(),
            deconv_block(256, 128, 4, 1, 0),   # 1 -> 4
            deconv_block(128, 64, 3, 2, 1),    # 4 -> 7
            deconv_block(64, 32, 4, 2, 1),     # 7 -> 14
            nn.ConvTranspose2d(32, 1, kernel_size=4, stride=2, padding=1),   # 14 -> 28
            nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)
