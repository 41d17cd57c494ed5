"""The compiled exact core (llmpack/model/exact/core_c/), built by `pip install`.

It is optional: where there is no C compiler, or the build fails, llmpack installs without
it and computes the same bits in torch (slower); `llmpack doctor` says which is used. The
library is loaded with ctypes (it has no Python API), so it does not depend on the Python
version's C API. Everything else is declared in pyproject.toml.
"""

from setuptools import Extension, setup

CORE = "llmpack/model/exact/core_c"
CORE_FLAGS = [
    "-O3",
    "-std=gnu99",
    "-ffp-contract=off",  # never fuse a * b + c into an FMA: the torch path rounds twice
    "-fno-fast-math",
    "-fno-strict-aliasing",
]

setup(
    ext_modules=[
        Extension("llmpack.model.exact._core", [f"{CORE}/{name}.c" for name in ("api", "generic", "avx2", "avx512")],
                  depends=[f"{CORE}/core.h", f"{CORE}/engine.h"], extra_compile_args=CORE_FLAGS, libraries=["m"],
                  extra_link_args=["-pthread"], optional=True),
    ]
)
