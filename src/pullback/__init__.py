"""pullback: exact gradients of ordinary NumPy and SciPy code, FFTs first.

>>> import numpy as np, pullback as pb
>>> pb.gradient(lambda x: np.sum(np.abs(np.fft.fft(x)) ** 2), np.array([1.0, 2.0]))[0]
array([4., 8.])
"""

from . import dispatch as _dispatch  # noqa: F401  (installs the traced array class)
from . import rules as _rules

_rules.load_all()

from . import testing  # noqa: E402
from .api import (  # noqa: E402
    adjoint,
    checkpoint,
    custom_adjoint,
    grad,
    gradient,
    hessian,
    hvp,
    jacobian,
    jvp,
    nondifferentiable,
    pullback,
    stop_gradient,
    value_and_grad,
    value_and_gradient,
)
from .engines.fft import get_engine, set_engine  # noqa: E402
from .errors import GaugeError, NoRuleError, TracedConversionError, UnexpectedTracerError  # noqa: E402
from .memory import keep_freed_memory, release_memory  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "GaugeError",
    "NoRuleError",
    "TracedConversionError",
    "UnexpectedTracerError",
    "adjoint",
    "checkpoint",
    "custom_adjoint",
    "get_engine",
    "grad",
    "gradient",
    "hessian",
    "hvp",
    "jacobian",
    "jvp",
    "keep_freed_memory",
    "nondifferentiable",
    "pullback",
    "release_memory",
    "set_engine",
    "stop_gradient",
    "testing",
    "value_and_grad",
    "value_and_gradient",
]
