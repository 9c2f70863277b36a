"""``scipy.fft.set_workers`` contexts: pullback honours the one that is open, and only that one."""

import inspect
import threading

import numpy as np
import scipy.fft

from pullback.engines import fft as engine
from pullback.engines import numpy_exact, workers


def test_a_closed_context_is_not_a_choice():
    """Regression: SciPy's context leaves its thread-local setting behind (``1``) when it closes,
    which pullback read as ``set_workers(1)``: every large transform after any such context ran on
    one thread."""
    big = np.zeros(1 << 17)
    assert workers.chosen() is None
    with scipy.fft.set_workers(2):
        assert workers.chosen() == 2 and scipy.fft.get_workers() == 2
        with scipy.fft.set_workers(1):
            assert workers.chosen() == 1
            assert numpy_exact._threads(big.size) == 1
            assert engine.workers_for(big, None) is None  # SciPy applies the context's 1
        assert workers.chosen() == 2
    assert workers.chosen() is None and scipy.fft.get_workers() == 1
    assert numpy_exact._threads(big.size) == numpy_exact._CPUS
    assert engine.workers_for(big, None) == (-1 if engine._CPUS > 1 else None)


def test_the_wrapper_is_scipys_context_manager():
    assert scipy.fft.set_workers.__name__ == "set_workers"
    assert inspect.signature(scipy.fft.set_workers) == inspect.signature(scipy.fft.set_workers.__wrapped__)
    with scipy.fft.set_workers(-1):  # SciPy's own argument handling (negative: counted from the cores)
        assert scipy.fft.get_workers() >= 1
    try:
        with scipy.fft.set_workers(0):
            raise AssertionError("SciPy rejects 0 workers")
    except ValueError:
        pass
    assert workers.chosen() is None and workers._open.depth == 0


def test_contexts_are_per_thread():
    seen = []
    with scipy.fft.set_workers(1):
        t = threading.Thread(target=lambda: seen.append(workers.chosen()))
        t.start()
        t.join()
        assert workers.chosen() == 1
    assert seen == [None]
