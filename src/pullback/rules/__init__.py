"""Differentiation rules, one module per family, all in one registry (``registry``).

The families are imported by :func:`load_all` once the traced array exists. A family in
:data:`OPTIONAL` differentiates a third-party library and is skipped when that library is
not installed (nothing else changes).
"""

import importlib
import importlib.util

FAMILIES = (
    "creation", "elementwise", "indexing", "reductions", "shape", "linalg", "linalg_decomp",
    "special", "special_bessel", "numpy_extra", "fft", "scipy_fft", "signal", "signal_windows",
    "signal_design", "signal_peaks", "signal_fftconv", "signal_spectral", "signal_order",
    "ndimage", "ndimage_rank", "ndimage_interp", "ndimage_distance", "numpy_signal", "stats",
    "stats_multivariate", "nufft", "integrate", "optimize", "optimize_min", "spatial", "interpolate",
    "interpolate_hermite", "scipy_linalg",
    "scipy_linalg_factor", "scipy_linalg_decomp", "scipy_linalg_matfun",
    "views",  # last: it makes the view functions' handlers (registered above) return views
)

#: family -> the package it needs (loaded only when that package is installed)
OPTIONAL = {"nufft": "finufft"}


def load_all() -> None:
    """Import every rule family, filling the registry."""
    for name in FAMILIES:
        needs = OPTIONAL.get(name)
        if needs is not None and importlib.util.find_spec(needs) is None:
            continue
        importlib.import_module(f"{__name__}.{name}")
