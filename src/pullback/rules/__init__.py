"""Differentiation rules, one module per family, all in one registry (``registry``).

The families are imported by :func:`load_all` once the traced array exists.
"""

import importlib

FAMILIES = (
    "creation", "elementwise", "indexing", "reductions", "shape", "linalg", "linalg_decomp",
    "special", "special_bessel", "numpy_extra", "fft", "scipy_fft", "signal", "signal_spectral",
    "ndimage", "ndimage_interp", "numpy_signal", "scipy_linalg", "scipy_linalg_factor",
    "scipy_linalg_decomp", "scipy_linalg_matfun",
    "views",  # last: it makes the view functions' handlers (registered above) return views
)


def load_all() -> None:
    """Import every rule family, filling the registry."""
    for name in FAMILIES:
        importlib.import_module(f"{__name__}.{name}")
