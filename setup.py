"""The compiled exact core (llmpack/model/exact/core_c/), built by `pip install`.

It is optional: where there is no C compiler, or the build fails, llmpack installs without
it and computes the same bits in torch (slower); `llmpack doctor` says which is used. The
library is loaded with ctypes (it has no Python API), so it does not depend on the Python
version's C API. Everything else is declared in pyproject.toml.
"""

import hashlib
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HASH_FILE = "_core.sha256"  # llmpack.model.exact.core.HASH_FILE: loaded only if the library matches it


class BuildCore(build_ext):
    """Records the built library's SHA-256 beside it; llmpack loads no other."""

    def run(self):
        super().run()  # builds, and copies the library into the source tree for an editable install
        build_py = self.get_finalized_command("build_py")
        for ext in self.extensions:
            name = Path(self.get_ext_filename(ext.name)).name
            package = build_py.get_package_dir(ext.name.rpartition(".")[0])
            for folder in {Path(self.get_ext_fullpath(ext.name)).parent, Path(package)}:
                if (folder / name).is_file():
                    digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
                    (folder / HASH_FILE).write_text(f"{digest}  {name}\n")

CORE = "llmpack/model/exact/core_c"
CORE_FLAGS = [
    "-O3",
    "-std=gnu99",
    "-ffp-contract=off",  # never fuse a * b + c into an FMA: the torch path rounds twice
    "-fno-fast-math",
    "-fno-strict-aliasing",
]

setup(
    cmdclass={"build_ext": BuildCore},
    ext_modules=[
        Extension("llmpack.model.exact._core", [f"{CORE}/{name}.c" for name in ("api", "generic", "avx2", "avx512")],
                  depends=[f"{CORE}/core.h", f"{CORE}/engine.h"], extra_compile_args=CORE_FLAGS, libraries=["m"],
                  extra_link_args=["-pthread"], optional=True),
    ]
)
