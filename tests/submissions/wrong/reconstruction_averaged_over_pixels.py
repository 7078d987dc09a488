"""Reconstruction term with nn.MSELoss() (a mean over pixels), against the stated convention.

loses: p3a_vae_loss
"""


class VAE(VAE):
    def loss(self, x, outputs):
        mu, log_sigma = outputs["q"][:, :self.nz], outputs["q"][:, self.nz:]
        rec_loss = nn.MSELoss()(outputs["rec"], x)
        kl_loss = kl_divergence(mu, log_sigma, torch.zeros_like(mu), torch.zeros_like(mu)).sum(1).mean()
        return rec_loss + self.beta * kl_loss, {"rec_loss": rec_loss, "kl_loss": kl_loss}
