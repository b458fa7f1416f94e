"""Reading official SMPL model files (`.pkl` or `.npz`) into plain numpy arrays.

The official `.pkl` files were written with Python 2 and pickle `chumpy` objects and scipy sparse
matrices from module paths that no longer exist. `chumpy` does not build on current Python, and a
plain `pickle.load` would run arbitrary code from the file anyway, so a restricted unpickler maps
chumpy classes to an inert holder of their array state, old scipy paths to current ones, and refuses
everything else.
"""

from __future__ import annotations

import _compat_pickle
import io
import os
import pickle
import zipfile
from typing import Any

import numpy as np

REQUIRED_KEYS = ("v_template", "shapedirs", "J_regressor", "weights", "f")
SMPL_DOWNLOAD_HINT = (
    "SMPL model files are licence-restricted and not shipped with posejax: register and download "
    "them from the official SMPL website, then pass the .pkl/.npz path or the folder holding "
    "smpl/SMPL_{NEUTRAL,MALE,FEMALE}.pkl. The embedded open model needs no download: "
    "load_body_model('open').")


class ChumpyArray:
    """Stands in for a pickled chumpy object; keeps the state and exposes its array."""

    def __init__(self, *args, **kwargs):
        self.state = {}

    def __setstate__(self, state):
        self.state = state if isinstance(state, dict) else {"x": state}

    def to_array(self) -> np.ndarray:
        value = self.state.get("x")
        if value is None:  # derived chumpy nodes keep their array under another name
            candidates = [v for v in self.state.values() if isinstance(v, (np.ndarray, ChumpyArray))]
            if len(candidates) != 1:
                raise ValueError("cannot recover an array from a pickled chumpy object "
                                 f"with fields {sorted(self.state)}")
            value = candidates[0]
        return value.to_array() if isinstance(value, ChumpyArray) else np.asarray(value)


_SAFE_GLOBALS = {
    ("copyreg", "_reconstructor"), ("builtins", "object"), ("builtins", "set"),
    ("builtins", "frozenset"), ("builtins", "slice"), ("builtins", "complex"),
    ("collections", "OrderedDict"), ("_codecs", "encode"),  # bytes in protocol-2 pickles
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Allows numpy arrays, scipy sparse matrices, chumpy objects (as `ChumpyArray`) and builtins."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _compat_pickle.NAME_MAPPING:  # Python 2 names
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if module == "chumpy" or module.startswith("chumpy."):
            return ChumpyArray
        if module.startswith("scipy.sparse"):
            import scipy.sparse  # only needed for official files
            if name.endswith("_matrix") or name.endswith("_array"):
                return getattr(scipy.sparse, name)
        if module.split(".")[0] == "numpy" and name in ("_reconstruct", "ndarray", "dtype", "scalar", "_frombuffer"):
            return super().find_class(module, name)
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a body model file")


def _plain(value):
    """Converts chumpy holders and sparse matrices to dense numpy arrays; keeps other values."""
    if isinstance(value, ChumpyArray):
        return value.to_array()
    if hasattr(value, "toarray") and hasattr(value, "nnz"):
        return value  # sparse J_regressor stays sparse until the model densifies it
    return value


def read_smpl_file(path: str) -> dict[str, Any]:
    """Reads an official SMPL `.pkl` or an `.npz` with the same keys.

    Args:
      path: file path.

    Returns:
      dict with at least v_template (V,3), shapedirs (V,3,S), J_regressor (24,V; dense or sparse),
      weights (V,24), f (F,3); posedirs (V,3,207) when present; kintree_table when present.

    Raises:
      FileNotFoundError: the file does not exist (with a hint on where to get SMPL).
      ValueError: the file cannot be parsed or lacks required keys.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"body model file not found: {path!r}. {SMPL_DOWNLOAD_HINT}")
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".npz", ".pkl", ".pickle"):
        raise ValueError(f"unsupported body model file extension {ext!r} in {path!r} (expected .pkl or .npz)")
    try:
        if ext == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                data = {k: npz[k] for k in npz.files}
        else:
            with open(path, "rb") as fh:
                data = _RestrictedUnpickler(io.BytesIO(fh.read()), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, zipfile.BadZipFile, OSError, AttributeError,
            ImportError, IndexError, KeyError, TypeError, ValueError) as e:
        raise ValueError(f"could not read body model file {path!r}: {type(e).__name__}: {e}") from e
    if not isinstance(data, dict):
        raise ValueError(f"body model file {path!r} holds a {type(data).__name__}, expected a dict of arrays")
    data = {k: _plain(v) for k, v in data.items()}
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise ValueError(f"body model file {path!r} lacks required keys {missing}; "
                         f"it has {sorted(data)}")
    return data
