"""Rules: scipy_fft (to be written)."""
