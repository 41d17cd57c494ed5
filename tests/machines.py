"""What tests share about the machine: where things are, and environments that make this
machine's torch, numpy and compiled core behave like other CPUs'."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository
DATA = ROOT / "tests" / "data"  # fixture files made by earlier versions
CORPUS = ROOT.parent / "shared" / "corpus"  # real public files (../shared/corpus)

# Environments that make torch on this machine behave like other CPUs.
OTHER_CPUS = {
    "avx2-1thread": {
        "ATEN_CPU_CAPABILITY": "avx2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "OMP_NUM_THREADS": "1",
    },
    "default-sse42-2threads": {"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "OMP_NUM_THREADS": "2"},
    "avx512-3threads": {"ATEN_CPU_CAPABILITY": "avx512", "OMP_NUM_THREADS": "3"},
    "torch-path": {"LLMPACK_CORE": "0"},  # no compiled core: the engine and the online models in torch and numpy
}

# numpy's SIMD levels on a smaller CPU: dispatch without AVX512 and AVX2
SMALL_NUMPY = {"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_CNL AVX512_CLX AVX512_SKX AVX512F AVX512CD "
                                           "AVX512VL AVX512BW AVX512DQ X86_V3 AVX2 FMA3"}
