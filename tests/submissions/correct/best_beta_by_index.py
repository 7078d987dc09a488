"""best_beta picked from the grid by position, float(BETA_CANDIDATES[2]) (= 1.0), after a search loop written with enumerate."""
# %% replace p3d_tuning_solution
BETA_CANDIDATES = [0.01, 0.1, 1.0, 10.0]
tuned_vaes = {}
tuning_histories = {}
for i, beta in enumerate(BETA_CANDIDATES):
    print(f"[{i + 1}/{len(BETA_CANDIDATES)}] training beta = {beta}")
    torch.manual_seed(SEED)
    model = VAE(NZ, beta=beta)
    tuning_histories[beta] = train_vae(model, train_loader, epochs=TUNE_EPOCHS, lr=LR, device=DEVICE)
    tuned_vaes[beta] = model

# Looking at the plots below: index 0 and 1 (0.01, 0.1) have a huge KL and bad samples,
# index 3 (10) has collapsed to the mean digit, so I take the third candidate.
best_beta = float(BETA_CANDIDATES[2])
