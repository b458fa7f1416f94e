"""Input validation shared by the public functions of posejax.

Checks run at the public boundary so that bad input fails with a message that names the argument,
the expected shape and what was received, instead of a broadcasting error deep inside XLA or a NaN
after an hour of optimisation. They are free under `jit`: shapes are static, and the NaN check only
runs when the value is concrete (outside any transformation).
"""

from __future__ import annotations

from typing import Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np

Dim = Union[int, None, str]


def format_shape(shape: Sequence[Dim]) -> str:
    """Renders an expected shape such as ("...", 24, 3) as "(..., 24, 3)"."""
    parts = ["..." if d == "..." else ("N" if d is None else str(d)) for d in shape]
    return "(" + ", ".join(parts) + (",)" if len(parts) == 1 else ")")


def shape_matches(actual: Sequence[int], expected: Sequence[Dim]) -> bool:
    """Whether `actual` fits `expected` (ints, None for any size, leading "..." for any batch dims)."""
    expected = tuple(expected)
    if expected and expected[0] == "...":
        tail = expected[1:]
        if len(actual) < len(tail):
            return False
        actual = tuple(actual)[len(actual) - len(tail):]
        expected = tail
    if len(actual) != len(expected):
        return False
    return all(e is None or a == e for a, e in zip(actual, expected))


def is_concrete(x) -> bool:
    """True when `x` holds actual values (not a tracer inside jit/grad/vmap)."""
    return not isinstance(x, jax.core.Tracer)


def check_finite(x, name: str) -> None:
    """Raises ValueError if a concrete `x` contains NaN or inf; a no-op for tracers."""
    if is_concrete(x) and not bool(np.all(np.isfinite(np.asarray(x)))):
        raise ValueError(f"`{name}` contains NaN or inf values")


def check_array(x, name: str, shape: Sequence[Dim], dtype=jnp.float32, finite: bool = True):
    """Converts `x` to a jax array of `dtype` and checks its shape (and finiteness).

    Args:
      x: array-like input.
      name: argument name used in error messages.
      shape: expected shape; ints, None (any size), optional leading "..." (any batch dims).
      dtype: target dtype (None keeps the input dtype).
      finite: also reject NaN / inf when the value is concrete.

    Returns:
      `x` as a jax array.

    Raises:
      ValueError: on a shape mismatch or non-finite values.
    """
    if x is None:
        raise ValueError(f"`{name}` must be an array of shape {format_shape(shape)}, got None")
    if not isinstance(x, (jax.Array, np.ndarray)):
        try:
            x = np.asarray(x)
        except Exception as e:  # ragged lists and the like
            raise ValueError(f"`{name}` must be an array of shape {format_shape(shape)}: {e}") from e
    if not shape_matches(x.shape, shape):
        raise ValueError(
            f"`{name}` must have shape {format_shape(shape)}, got {tuple(x.shape)}")
    if finite:
        check_finite(x, name)
    return jnp.asarray(x) if dtype is None else jnp.asarray(x, dtype=dtype)
