"""The examples run, each one's optimisation makes progress, and each draws its figure."""

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check_png(png):
    if importlib.util.find_spec("matplotlib") is not None:
        assert png.stat().st_size > 0


@pytest.mark.parametrize(
    "name, args",
    [("phase_retrieval", (16, 60)), ("heat_inverse", (64, 40)), ("fno_layer", (16, 4, 30)),
     ("image_registration", (32, 30)), ("ode_parameter_fit", (12, 8, 6.0))],
)
def test_example_makes_progress(name, args, tmp_path):
    module = _load(name)
    if "plot" in module.main.__code__.co_varnames:
        png = tmp_path / f"{name}.png"
        assert module.main(*args, plot=str(png)) < 0.5
        _check_png(png)
    else:
        assert module.main(*args) < 0.5


@pytest.mark.parametrize(
    "name, args, bound",
    [("iir_sos_fit", (400, 30), 0.5), ("spectrogram_inversion", (2000, 30), 0.5),
     ("deconvolution", (32, 40), 0.5),
     ("dct_denoising", (32, 30), 0.9),  # the objective keeps the noise's share: it cannot fall far
     ("nufft_mri", (24, 32, 40), 0.5)],
)
def test_example_with_plot_makes_progress(name, args, bound, tmp_path):
    if name == "nufft_mri":
        pytest.importorskip("finufft")
    png = tmp_path / f"{name}.png"
    ratio = _load(name).main(*args, plot=str(png))
    assert ratio < bound
    _check_png(png)
