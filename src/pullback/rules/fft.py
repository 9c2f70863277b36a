"""Rules: numpy.fft (to be written)."""
