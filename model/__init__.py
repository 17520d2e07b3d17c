"""Neural network modules: the parameter autoencoder and the ranking transformers (one file each)."""
