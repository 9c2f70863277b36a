"""Rules: NumPy functions outside the core families (filled below)."""
