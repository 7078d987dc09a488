"""KL averaged over latent units instead of summed.

loses: p3a_vae_loss
"""


class VAE(VAE):
    def loss(self, x, outputs):
        mu, log_sigma = outputs["q"][:, :self.nz], outputs["q"][:, self.nz:]
        rec_loss = ((outputs["rec"] - x) ** 2).flatten(1).sum(1).mean()
        kl_loss = kl_divergence(mu, log_sigma, torch.zeros_like(mu), torch.zeros_like(mu)).mean()
        return rec_loss + self.beta * kl_loss, {"rec_loss": rec_loss, "kl_loss": kl_loss}
