import numpy as np
import pytest

from faceanalytics.plugins.smoothing import OneEuroFilter


def test_constant_signal_passes_unchanged():
    f = OneEuroFilter(1.0, 0.1)
    for i in range(10):
        out = f(np.array([3.0, -2.0]), i / 30)
    np.testing.assert_allclose(out, [3.0, -2.0])


def test_golden_first_steps():
    # With beta = 0 it is an exponential filter with alpha = 1 / (1 + tau / dt), tau = 1 / (2 pi fc).
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    assert f(np.array(0.0), 0.0) == 0.0
    alpha = 1 / (1 + (1 / (2 * np.pi)) / 0.1)
    assert f(np.array(1.0), 0.1) == pytest.approx(alpha)
    assert f(np.array(1.0), 0.2) == pytest.approx(alpha + alpha * (1 - alpha))


def _run(f, xs, ts):
    return np.array([f(np.array(v), t) for v, t in zip(xs, ts, strict=True)])


def test_cuts_jitter_at_rest():
    rng = np.random.default_rng(0)
    t = np.arange(300) / 30
    noisy = 10 + rng.normal(0, 1.0, t.shape)
    out = _run(OneEuroFilter(min_cutoff=1.0, beta=0.05), noisy, t)
    assert np.std(out[30:]) < 0.4 * np.std(noisy[30:])


def test_speed_opens_the_cutoff():
    t = np.arange(90) / 30
    ramp = 200 * t  # 200 px/s
    lag_plain = np.abs(_run(OneEuroFilter(1.0, 0.0), ramp, t) - ramp)[30:].mean()
    lag_adaptive = np.abs(_run(OneEuroFilter(1.0, 0.05), ramp, t) - ramp)[30:].mean()
    assert lag_adaptive < 0.2 * lag_plain


def test_variable_frame_rate_and_repeated_time():
    f = OneEuroFilter()
    f(np.array(0.0), 0.0)
    a = f(np.array(1.0), 0.5)
    assert 0 < a < 1
    assert f(np.array(5.0), 0.5) == a  # no time passed: no update


def test_bad_parameters():
    with pytest.raises(ValueError):
        OneEuroFilter(min_cutoff=0)
