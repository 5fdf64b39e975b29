"""numpy cross-compiled for wasm32-wasi computes inside the component what native numpy does."""

import io

import numpy as np
import pytest


def npy(*arrays):
    buf = io.BytesIO()
    np.savez(buf, *arrays)
    return buf.getvalue()


def run_arrays(probe, expr, *arrays):
    """Evaluates `expr` inside the component with arr_0, arr_1... bound; returns the array."""
    source = f"""
f = np.load(io.BytesIO(data))
arr = [f[f"arr_{{i}}"] for i in range(len(f.files))]
out = io.BytesIO()
np.save(out, np.asarray({expr}))
result = out.getvalue()
"""
    return np.load(io.BytesIO(probe.run(source, npy(*arrays))))


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(7)


def test_float32_matmul_matches_native(probe, rng):
    a = rng.standard_normal((64, 96), dtype=np.float32)
    b = rng.standard_normal((96, 48), dtype=np.float32)
    inside = run_arrays(probe, "arr[0] @ arr[1]", a, b)
    assert inside.dtype == np.float32 and inside.shape == (64, 48)
    np.testing.assert_allclose(inside, a @ b, rtol=1e-5, atol=1e-5)


def test_conv_shaped_matmul_matches_native(probe, rng):
    # The shape of a 1x1 convolution at 56x56 with 96 -> 576 channels, as the engine runs it.
    # Every 8th row comes back: wasmtime caps how much a call may copy out of the guest.
    a = rng.standard_normal((3136, 96), dtype=np.float32)
    b = rng.standard_normal((96, 576), dtype=np.float32)
    np.testing.assert_allclose(run_arrays(probe, "(arr[0] @ arr[1])[::8]", a, b), (a @ b)[::8], rtol=1e-5, atol=1e-4)


def test_einsum_and_reductions_match_native(probe, rng):
    a = rng.standard_normal((8, 16, 12), dtype=np.float32)
    b = rng.standard_normal((8, 12, 5), dtype=np.float32)
    np.testing.assert_allclose(
        run_arrays(probe, "np.einsum('bij,bjk->bik', arr[0], arr[1])", a, b),
        np.einsum("bij,bjk->bik", a, b),
        rtol=1e-5,
        atol=1e-5,
    )
    expr = "np.concatenate([arr[0].sum(axis=(1, 2)), arr[0].mean(axis=0).ravel(), arr[0].max(axis=1).ravel(), arr[0].std(axis=2).ravel()])"
    native = np.concatenate([a.sum(axis=(1, 2)), a.mean(axis=0).ravel(), a.max(axis=1).ravel(), a.std(axis=2).ravel()])
    np.testing.assert_allclose(run_arrays(probe, expr, a), native, rtol=1e-5, atol=1e-5)


def test_linalg_solve_matches_native(probe, rng):
    a = rng.standard_normal((6, 6)) + 6 * np.eye(6)
    b = rng.standard_normal(6)
    np.testing.assert_allclose(
        run_arrays(probe, "np.linalg.solve(arr[0], arr[1])", a, b), np.linalg.solve(a, b), rtol=1e-12
    )


def test_fft_and_random_match_native(probe):
    inside = run_arrays(probe, "np.abs(np.fft.rfft(np.random.default_rng(3).standard_normal(256)))")
    native = np.abs(np.fft.rfft(np.random.default_rng(3).standard_normal(256)))
    np.testing.assert_allclose(inside, native, rtol=1e-12)
