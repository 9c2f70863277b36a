"""Every rule case of every family: the generic checker, and the value against NumPy's or SciPy's.

Each family module (``test_<family>.py``) lists its cases in ``CASES``; this module runs
them all the same way, so the family modules hold only what is particular to them.
"""

import warnings

import numpy as np
import pytest

import pullback as pb
from pullback.testing import check_gradient

from .cases import all_cases, case_id

CASES = []  # this module adds none of its own
ALL = all_cases()


def _ids(case):
    return f"{case[0]}:{case_id(case[1:])}"


def _as_array(y):
    return np.stack(y) if isinstance(y, (list, tuple)) else y


@pytest.mark.parametrize("case", ALL, ids=_ids)
def test_gradient_matches_finite_differences(case):
    _, _, f, args = case
    check_gradient(lambda *a: _as_array(f(*a)), *args)


@pytest.mark.parametrize("case", ALL, ids=_ids)
def test_value_matches_the_library(case):
    _, _, f, args = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = f(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
        got = pb.pullback(f, *args)[0]
    if isinstance(want, (list, tuple)):
        assert type(got) is type(want)
    got, want = _as_array(got), _as_array(want)
    assert np.shape(got) == np.shape(want)
    assert np.result_type(got) == np.result_type(want)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
