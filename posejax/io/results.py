"""Saving and loading results (fitted parameters, predictions, metrics) as .npz or .json.

`save_results(path, results)` takes a (possibly nested) dict of arrays (numpy or JAX), numbers,
strings, booleans and None, and writes by suffix:

* `.npz`: nested keys are joined with "/" (`{"fit": {"pose": ...}}` -> "fit/pose"); scalars and
  strings are stored as 0-d arrays; None as an empty 0-d object is not allowed in npz, so None is
  stored under the key with a `__none__` marker. Loading restores the nesting, 0-d arrays become
  Python scalars.
* `.json`: arrays become (nested) lists, readable by any tool; NaN and +-inf become null (JSON has
  neither). The array dtypes and shapes are recorded under the top-level key "__arrays__" so that
  `load_results` gives back arrays (with NaN for null) of the original dtype; a plain list given
  to `save_results` stays a list.

Keys must be strings and may not contain "/" (the nesting separator) or start with "__".
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from typing import Any, Dict

import numpy as np

from posejax.io.text_files import read_json

__all__ = ["save_results", "load_results"]

_NONE = "__none__"
_ARRAYS = "__arrays__"


def _check_key(key, where):
    if not isinstance(key, str) or "/" in key or key.startswith("__") or not key:
        raise ValueError(f"`results` key {where + str(key)!r} must be a non-empty string without "
                         f"'/' that does not start with '__'")


def _is_array(v) -> bool:
    return hasattr(v, "shape") and hasattr(v, "dtype")  # numpy, JAX, numpy scalars


def _flatten(results, prefix="") -> Dict[str, Any]:
    if not isinstance(results, dict):
        raise ValueError(f"`results` must be a dict, got {type(results).__name__}")
    flat = {}
    for k, v in results.items():
        _check_key(k, prefix)
        key = prefix + k
        if isinstance(v, dict):
            flat.update(_flatten(v, key + "/"))
        else:
            flat[key] = v
    return flat


def _unflatten(flat: Dict[str, Any]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for key, v in flat.items():
        parts = key.split("/")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = v
    return out


def _json_ready(v, key):
    """Array / scalar -> JSON-compatible value (NaN, inf -> None)."""
    if _is_array(v):
        arr = np.asarray(v)
        if arr.dtype.kind == "f":
            obj = np.where(np.isfinite(arr), arr, np.nan).astype(object)
            obj[~np.isfinite(arr)] = None
            return obj.tolist()
        if arr.dtype.kind in "biuUS":
            return arr.tolist()
        raise ValueError(f"`results[{key!r}]` has unsupported dtype {arr.dtype}")
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (list, tuple)):
        return [_json_ready(x, key) for x in v]
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    raise ValueError(f"`results[{key!r}]` must be an array, number, string, bool, None, list or "
                     f"dict, got {type(v).__name__}")


def save_results(path: str, results: Dict[str, Any]) -> str:
    """Writes `results` to `path` (.npz or .json, see the module docstring).

    Returns:
      `path`.
    """
    flat = _flatten(results)
    low = path.lower()
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    if low.endswith(".npz"):
        arrays = {}
        for k, v in flat.items():
            if v is None:
                arrays[k + "/" + _NONE] = np.zeros(0)
                continue
            arr = np.asarray(v)
            if arr.dtype == object:
                raise ValueError(f"`results[{k!r}]` cannot be stored in .npz without pickling "
                                 f"(got a ragged or object value)")
            arrays[k] = arr
        with open(path, "wb") as f:
            np.savez(f, **arrays)
        return path
    if low.endswith(".json"):
        doc: Dict[str, Any] = {}
        meta = {}
        for k, v in flat.items():
            if _is_array(v):
                arr = np.asarray(v)
                meta[k] = {"dtype": arr.dtype.str, "shape": list(arr.shape)}
            doc[k] = _json_ready(v, k)
        nested = _unflatten(doc)
        nested[_ARRAYS] = meta
        with open(path, "w", encoding="utf-8") as f:
            json.dump(nested, f, allow_nan=False)
        return path
    raise ValueError(f"{path}: results can be saved as .npz or .json")


def load_results(path: str) -> Dict[str, Any]:
    """Reads results written by `save_results` (or any .npz / JSON object).

    Raises:
      FileNotFoundError: missing file.
      ValueError: unreadable file (JSON errors name the line and column).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    low = path.lower()
    if low.endswith(".npz"):
        try:
            with np.load(path, allow_pickle=False) as data:
                flat = {}
                for k in data.files:
                    if k.endswith("/" + _NONE):
                        flat[k[:-len(_NONE) - 1]] = None
                        continue
                    arr = data[k]
                    flat[k] = arr.item() if arr.ndim == 0 else arr
        except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
            raise ValueError(f"{path}: not a readable .npz file: {e}") from None
        return _unflatten(flat)
    if low.endswith(".json"):
        doc = read_json(path)
        if not isinstance(doc, dict):
            raise ValueError(f"{path}: expected a JSON object, got {type(doc).__name__}")
        meta = doc.pop(_ARRAYS, {})
        for key, info in meta.items():
            node, parts = doc, key.split("/")
            try:
                for p in parts[:-1]:
                    node = node[p]
                value = node[parts[-1]]
                dtype = np.dtype(info["dtype"])
                if dtype.kind == "f":
                    value = np.asarray(_none_to_nan(value), np.float64)
                node[parts[-1]] = np.asarray(value, dtype).reshape(info["shape"])
            except (KeyError, TypeError, ValueError) as e:
                raise ValueError(f"{path}: entry {key!r} does not match its recorded array "
                                 f"{info}: {e}") from None
        return doc
    raise ValueError(f"{path}: results can be loaded from .npz or .json")


def _none_to_nan(v):
    if v is None:
        return math.nan
    if isinstance(v, list):
        return [_none_to_nan(x) for x in v]
    return v
