"""Rules: linalg (to be written)."""
