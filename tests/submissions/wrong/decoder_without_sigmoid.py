"""A decoder that ends without a sigmoid: outputs are not pixel values in [0, 1].

loses: p2a_architecture
"""


class Decoder(Decoder):
    def __init__(self, nz):
        super().__init__(nz)
        self.net = self.net[:-1]
