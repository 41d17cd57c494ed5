"""The environment: every variable llmpack reads, and the process settings it makes.

Variables read (here only):

    LLMPACK_HOME        the user directory (converted models, fingerprint memo); default
                        $XDG_CACHE_HOME/llmpack or ~/.cache/llmpack
    LLMPACK_PROMPTS     a folder searched first for the released prompt templates
    LLMPACK_DEBUG=1     tracebacks with errors, and notes from the engine's self-tests
    LLMPACK_CORE=0      never use the compiled core (the engine runs in torch; same bits)
    LLMPACK_KERNELS=0   never use the compact-cache attention kernels of the torch path
    LLMPACK_CORE_ISA, ATEN_CPU_CAPABILITY   cap the core's instruction set (avx2, default, ...)

Process settings llmpack makes for its own work. Importing llmpack changes nothing in
the host process; these are applied by the command line before it starts, and by the
first model load through the API (llmpack's own work from then on), never earlier.

* GOMP_SPINCOUNT=2000 (unless the user set it or OMP_WAIT_POLICY): OpenMP threads spin
  only briefly (about a microsecond) before they sleep. libgomp's default long spin
  makes two llmpack processes on the same cores wait on each other (two concurrent 32 KB
  encodes: 3.3x a lone one's time; 10k spins: 3.5x; 2000: 2.0x); never spinning
  (OMP_WAIT_POLICY=PASSIVE) doubled the decoder's step time. See eval/two_runs.py.
  libgomp reads it when torch loads, so it is set only where torch is not loaded yet.
* TRANSFORMERS_VERBOSITY=error (unless set): transformers' warnings about the converted
  GGUF are not a user's concern.

The exact engine's constructor also sets glibc's malloc thresholds (model.py) and, on
CUDA, turns off TF32 for matrix products (both for the whole process). Models are loaded
with local_files_only: nothing is fetched from a hub.
"""

from __future__ import annotations

import os
import sys

SPIN_COUNT = "2000"


def prepare_process() -> None:
    if "torch" not in sys.modules and "OMP_WAIT_POLICY" not in os.environ:
        os.environ.setdefault("GOMP_SPINCOUNT", SPIN_COUNT)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def _get(name: str) -> str:
    return os.environ.get(name, "")


def debug() -> bool:
    return bool(_get("LLMPACK_DEBUG"))


def core_enabled() -> bool:
    return _get("LLMPACK_CORE") != "0"


def kernels_enabled() -> bool:
    return _get("LLMPACK_KERNELS") != "0"


def isa_caps() -> list[str]:
    """The instruction-set caps asked for, lower-case (empty where unset)."""
    return [_get(v).lower() for v in ("ATEN_CPU_CAPABILITY", "LLMPACK_CORE_ISA")]


def home() -> str:
    return _get("LLMPACK_HOME")


def cache_home() -> str:
    return _get("XDG_CACHE_HOME")


def prompts_folder() -> str:
    return _get("LLMPACK_PROMPTS")
