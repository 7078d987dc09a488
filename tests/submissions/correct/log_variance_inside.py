"""The encoder's second half is read as a log-variance and converted to log sigma in q."""


class VAE(VAE):
    def reparameterize(self, mu, log_sigma):
        log_var = 2 * log_sigma
        return mu + torch.exp(0.5 * log_var) * torch.randn_like(log_var)

    def forward(self, x):
        raw = self.encoder(x)
        mu, log_var = raw.chunk(2, dim=1)
        log_sigma = 0.5 * log_var
        z = self.reparameterize(mu, log_sigma)
        return {"q": torch.cat([mu, log_sigma], dim=1), "rec": self.decoder(z)}

    def loss(self, x, outputs):
        mu, log_sigma = outputs["q"].chunk(2, dim=1)
        log_var = 2 * log_sigma
        rec_loss = F.mse_loss(outputs["rec"], x, reduction="sum") / x.shape[0]
        kl_loss = (-0.5 * (1 + log_var - mu.pow(2) - log_var.exp())).sum(1).mean()
        return rec_loss + self.beta * kl_loss, {"rec_loss": rec_loss, "kl_loss": kl_loss}
