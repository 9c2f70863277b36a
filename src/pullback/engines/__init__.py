"""How transforms run, and the memory they reuse: not differentiation rules.

- :mod:`~pullback.engines.fft`: the FFT engine in force (pocketfft through
  ``scipy.fft``, ducc0, pyFFTW, Intel MKL) with its byte-bounded plan caches,
  threads and fork safety; :func:`pullback.set_engine` / :func:`pullback.get_engine`.
- :mod:`~pullback.engines.mkl`: oneMKL's DFTI called through ctypes.
- :mod:`~pullback.engines.buffers`: the block cache that recycles freed arrays
  (bounded by ``PULLBACK_CACHE_MIB``) and the reference-count calibration that
  proves a cotangent is private before a rule writes into it.

The rules in :mod:`pullback.rules` call these; nothing here knows about tracing.
"""
