"""The errors pullback raises instead of returning a wrong or missing gradient."""

from __future__ import annotations


class NoRuleError(TypeError):
    """A traced value reached a function that has no differentiation rule."""

    def __init__(self, name: str, reason: str | None = None) -> None:
        if reason is not None:  # a function with a rule, asked for a derivative it does not have
            super().__init__(f"pullback cannot differentiate {name}: {reason}")
        else:
            super().__init__(
                f"pullback has no differentiation rule for {name}. Register one with "
                f"@pullback.adjoint({name}) (a function with the same signature returning "
                f"(value, back)), or declare it with pullback.nondifferentiable({name}) if its "
                "output carries no gradient."
            )
        self.name = name


class GaugeError(ValueError):
    """The loss depends on a choice a matrix decomposition leaves free (a vector's phase, a basis of
    a repeated eigenvalue's space): it has no derivative (see ``pullback.rules.linalg_decomp``)."""


class TracedConversionError(TypeError):
    """A traced value was converted to a plain value, which would drop its gradient."""

    def __init__(self, what: str, advice: str | None = None) -> None:
        super().__init__(
            f"pullback: {what} would silently drop the gradient of a traced array. " + (advice or (
                "Keep using NumPy functions on it. To assign traced values into a buffer, create "
                "the buffer from a traced value (y = np.zeros_like(traced); y[...] = ...) rather "
                "than as a plain array, or build it with np.pad / np.concatenate / np.where. Call "
                "pullback.stop_gradient(x) first if you really want a constant."))
        )


class UnexpectedTracerError(TypeError):
    """A traced value was used after the differentiation that traced it had returned.

    It escaped the function being differentiated (stored in a global, a list or an object
    outside it), so it no longer records anything: using it would silently turn a later
    result into a traced object or lose a derivative. JAX raises its own
    ``UnexpectedTracerError`` for the same mistake.
    """

    def __init__(self, kind: str) -> None:
        super().__init__(
            f"pullback: a traced value of a {kind} differentiation that has already returned was "
            "used. It escaped the function being differentiated (stored outside it, e.g. in a "
            "global, a list or an attribute). Return it from the function (as an output, or as "
            "aux with has_aux=True) instead, or call pullback.stop_gradient on it inside the "
            "function to keep a constant."
        )


try:  # uarray's "this backend does not implement the call": scipy.fft then tries the next backend
    from scipy._lib.uarray import BackendNotImplementedError as _BackendDeclines
except ImportError:  # pragma: no cover - a SciPy without uarray

    class _BackendDeclines(Exception):
        pass


class TracedArrayConversionError(TracedConversionError, _BackendDeclines):
    """``np.asarray`` of a traced array by a ``scipy.fft`` backend: the one case where the
    conversion error is also a ``NotImplementedError``.

    It is uarray's ``BackendNotImplementedError`` (a ``NotImplementedError``): a
    ``scipy.fft`` backend that converts its input to an array (pyFFTW's, or SciPy's own
    when chosen with ``scipy.fft.set_backend`` or ``set_global_backend``) thereby
    declines a traced call, and uarray hands the call on to the next backend,
    pullback's, instead of failing. Everywhere else (and when ``only=True`` leaves uarray
    no other backend to try) ``__array__`` raises a plain :class:`TracedConversionError`,
    a ``TypeError`` only.
    """
