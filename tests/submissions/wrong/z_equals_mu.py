"""No sampling at all: z = mu.

loses: p3a_reparameterize p3b_train_vae
"""


class VAE(VAE):
    def reparameterize(self, mu, log_sigma):
        return mu
