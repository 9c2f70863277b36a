"""Rules: special (to be written)."""
