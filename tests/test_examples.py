"""The examples run, and each one's optimisation makes progress."""

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "name, args",
    [("phase_retrieval", (16, 60)), ("heat_inverse", (64, 40)), ("fno_layer", (16, 4, 30)),
     ("image_registration", (32, 30)), ("ode_parameter_fit", (12, 8, 6.0))],
)
def test_example_makes_progress(name, args):
    ratio = _load(name).main(*args)
    assert ratio < 0.5


@pytest.mark.parametrize("name, args", [("iir_sos_fit", (400, 30)), ("spectrogram_inversion", (2000, 30))])
def test_signal_example_makes_progress(name, args, tmp_path):
    png = tmp_path / f"{name}.png"
    ratio = _load(name).main(*args, plot=str(png))
    assert ratio < 0.5
    if importlib.util.find_spec("matplotlib") is not None:
        assert png.stat().st_size > 0


def test_nufft_mri_example(tmp_path):
    pytest.importorskip("finufft")
    png = tmp_path / "nufft_mri.png"
    ratio = _load("nufft_mri").main(24, 32, 40, plot=str(png))
    assert ratio < 0.5
    if importlib.util.find_spec("matplotlib") is not None:
        assert png.stat().st_size > 0
