import subprocess
import sys

import pytest

import pullback as pb

CHURN = """
import resource, sys
import numpy as np
import pullback as pb

if sys.argv[1] == "keep":
    assert pb.keep_freed_memory()


def churn():  # three 16 MB arrays, freed at the end of each call
    a = np.ones(2**21)
    b = a * 2.0
    return float((b + a)[0])


churn(); churn()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    churn()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode):
    run = subprocess.run([sys.executable, "-c", CHURN, mode], capture_output=True, text=True, check=True)
    return int(run.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_keep_freed_memory_stops_the_page_faults_of_reallocation():
    if not pb.keep_freed_memory():
        pytest.skip("this C library has no mallopt")
    # glibc's defaults fault ~20,000 pages here (they return the freed arrays to the kernel);
    # another allocator may not, so only the kept memory's count is asserted
    assert _faults("keep") < 100
