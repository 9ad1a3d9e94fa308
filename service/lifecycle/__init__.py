"""The model lifecycle: first version, retraining, promotion on evidence, verification."""
