"""The one record of how llmpack computes the probabilities that drive its coders.

Every codec that range-codes or regenerates text runs llmpack.model.exact, and every
container records `Numerics.tag()`. Decoding rebuilds the engine from the recorded
tag, so a later change of default never breaks an old file, and a tag this version
cannot reproduce is refused with one line.

Why these numbers (SmolLM2-135M Q4_1 on canterbury/alice29.txt; see the README):
weights are int8 per output channel; 10-bit activations keep the linear layers within
0.05% of float32's cross-entropy (8 bits cost about 1%), and unlike 12 bits they keep
sum|q| * 127 below 2^24 on real activations, so one fp32 GEMM is exact (at 12 bits
half the o_proj and down_proj rows needed the chunked fallback); q and k at the most
levels whose head_dim-term dot products stay exact in float32; attention weights at
16 bits; exp on a 1/1024 grid.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ...errors import FormatError

# Bump on any change to the computation itself (ops, order, tables). Versions:
# 1: RMSNorm's square root from torch.sqrt, whose vectorised CPU path (MKL) is up to
#    one ulp off on some inputs, and differently per library and CPU: such files decode
#    only where torch rounds as the encoder's did. Still read, for files made with it.
# 2: a correctly rounded square root (ops.sqrt), and true division on every device.
VERSION = 2
READABLE_VERSIONS = (1, 2)
EXACT_FLOAT_INT = 1 << 24  # integers below this are exact in float32 (the GEMM bound)


@dataclass(frozen=True)
class Numerics:
    version: int = VERSION
    weight_bits: int = 8  # per output channel; int8 also suits int8 matrix units
    act_bits: int = 10  # linear-layer inputs, per row (per token)
    v_bits: int = 8  # attention values, per token and head; P.V splits P in two 8-bit halves
    p_bits: int = 16  # attention weights (times v's scale), per query row
    exp_grid: int = 1024  # exp(-x) is looked up at steps of 1/exp_grid ...
    exp_span: int = 32  # ... for x in [0, exp_span]; below exp(-exp_span) a weight is 0

    def tag(self) -> str:
        """What headers record, e.g. 'x2/w8a10v8p16/e1024x32'."""
        return (f"x{self.version}/w{self.weight_bits}a{self.act_bits}v{self.v_bits}p{self.p_bits}"
                f"/e{self.exp_grid}x{self.exp_span}")

    @classmethod
    def parse(cls, tag: str) -> "Numerics":
        m = re.fullmatch(r"x(\d+)/w(\d+)a(\d+)v(\d+)p(\d+)/e(\d+)x(\d+)", tag)
        if m is None:
            raise FormatError(f"unknown numerics '{tag}': made by another llmpack version; "
                              f"this one computes exact numerics x{VERSION}")
        n = cls(*(int(g) for g in m.groups()))
        if n.version not in READABLE_VERSIONS:
            raise FormatError(f"file needs exact numerics x{n.version}; this llmpack computes "
                              f"x{', x'.join(map(str, READABLE_VERSIONS))}")
        if not (2 <= n.weight_bits <= 8 and 2 <= n.act_bits <= 16 and 2 <= n.v_bits <= 8
                and 2 <= n.p_bits <= 16 and 1 <= n.exp_grid <= 4096 and 1 <= n.exp_span <= 128):
            raise FormatError(f"numerics '{tag}' out of range")
        return n

    def levels(self, bits: int) -> int:
        """Largest integer magnitude a `bits`-bit signed quantizer uses."""
        return (1 << (bits - 1)) - 1

    @staticmethod
    def qk_levels(head_dim: int) -> int:
        """Most levels for q and k such that a head_dim-term dot product stays below 2^24."""
        return math.isqrt((EXACT_FLOAT_INT - 1) // head_dim)


DEFAULT = Numerics()
V1 = Numerics(version=1)  # format 4's profiles 1-3 and older files
