"""Rules: ``scipy.signal`` spectral analysis (placeholder, filled below)."""
