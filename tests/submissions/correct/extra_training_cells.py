"""Extra top-level cells the student added between definitions: a second auto-encoder trained at another learning rate with both curves plotted, a loss sanity check, and a β = 1 VAE trained and plotted before tuning."""
# %% new cell after p2c_train_autoencoder
# Experiment: does a larger learning rate help? (same budget as above)
torch.manual_seed(SEED)
ae_fast = AutoEncoder(NZ)
ae_fast_losses = train_autoencoder(ae_fast, train_loader, epochs=AE_EPOCHS, lr=3 * LR, device=DEVICE)
plt.figure(figsize=(7, 3.5))
plt.plot(ae_losses, label=f"lr = {LR:g}")
plt.plot(ae_fast_losses, label=f"lr = {3 * LR:g}")
plt.yscale("log")
plt.xlabel("iteration")
plt.ylabel("squared error per image")
plt.legend()
plt.show()
print(f"final loss: {ae_losses[-1]:.1f} (lr {LR:g}) vs {ae_fast_losses[-1]:.1f} (lr {3 * LR:g})")

# %% new cell after p3a_vae_solution
# sanity check of my loss on one batch before running the checks
_check_vae = VAE(NZ, beta=1.0)
_xb = next(iter(test_loader))[0]
_tot, _parts = _check_vae.loss(_xb, _check_vae(_xb))
print({k: round(v.item(), 2) for k, v in _parts.items()}, "total", round(_tot.item(), 2))
del _check_vae, _xb, _tot, _parts

# %% new cell after p3b_train_vae
# My own run at beta = 1 before the search, to see the two loss terms side by side.
torch.manual_seed(SEED)
vae_beta1 = VAE(NZ, beta=1.0)
hist_beta1 = train_vae(vae_beta1, train_loader, epochs=VAE_EPOCHS, lr=LR, device=DEVICE)
fig, axes = plt.subplots(1, 2, figsize=(10, 3))
axes[0].plot(hist_beta1["rec_loss"])
axes[0].set_title("rec_loss, beta = 1")
axes[1].plot(hist_beta1["kl_loss"])
axes[1].set_title("kl_loss, beta = 1")
plt.tight_layout()
plt.show()
show_images(vae_beta1.sample(16, generator=torch.Generator().manual_seed(SEED)), "my beta = 1 VAE: samples")
print(summarize_vae(vae_beta1, _eval_images))
