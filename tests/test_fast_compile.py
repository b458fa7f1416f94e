"""`posejax.fast_compile.jit`: jax.jit with the CPU compile-time options."""

import jax
import jax.numpy as jnp
import numpy as np

from posejax import fast_compile


def test_options_on_cpu():
    assert jax.default_backend() == "cpu"
    assert fast_compile.compiler_options() == {"xla_cpu_use_fusion_emitters": False}


def test_same_results_as_numpy_and_traced_once_per_static_value():
    traces = []

    def f(x, power):
        traces.append(power)
        return jnp.sum(jnp.sin(x) ** power)

    fast = fast_compile.jit(f, static_argnames=("power",))
    x = np.linspace(0.0, 3.0, 50, dtype=np.float32)
    for power in (2, 3, 2):
        np.testing.assert_allclose(fast(x, power=power), np.sum(np.sin(x) ** power), rtol=1e-5)
    assert traces == [2, 3]
    assert fast.__name__ == "f"
