"""Coding profiles: everything a model-coded stream's probabilities depend on besides
the model and the tokens, recorded in a header as one number.

A profile fixes the exact engine's numerics, the range coder's precision, the context
window and the online models with all their constants. Numbers are never reused and a
profile never changes once released: files name them. Levels (config.LEVELS) choose a
profile plus encoder-only settings (segment length, batch rows) that need no record.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import FormatError
from ..model.exact.numerics import DEFAULT as X2, V1 as X1, Numerics
from ..model.window import Window
from .online import OFF, OnlineSpec

PRECISION_BITS = 24  # constriction's default for its range coder



@dataclass(frozen=True)
class Profile:
    numerics: Numerics
    precision: int  # range coder precision in bits
    window: Window
    online: OnlineSpec = OFF


PROFILES: dict[int, Profile] = {
    # Format 3's coding: no online models; segments never outgrow the window.
    1: Profile(X1, PRECISION_BITS, Window(2048, 512)),
    # The online models: the adaptive bias (1.3% fewer bits on prose) and the match model
    # (little on prose, much on records that repeat a dictionary's text beyond the window).
    2: Profile(X1, PRECISION_BITS, Window(2048, 512), OnlineSpec(bias_rate=0.1, match_order=6)),
    # Longer context for long segments: a 4096-token window sliding by 1024.
    3: Profile(X1, PRECISION_BITS, Window(4096, 1024), OnlineSpec(bias_rate=0.1, match_order=6)),
    # 1-3 with numerics version 2 (a correctly rounded sqrt: the same bits on any CPU or GPU).
    4: Profile(X2, PRECISION_BITS, Window(2048, 512)),
    5: Profile(X2, PRECISION_BITS, Window(2048, 512), OnlineSpec(bias_rate=0.1, match_order=6)),
    6: Profile(X2, PRECISION_BITS, Window(4096, 1024), OnlineSpec(bias_rate=0.1, match_order=6)),
}


def get(number: int) -> Profile:
    try:
        return PROFILES[number]
    except KeyError:
        raise FormatError(f"unknown coding profile {number} (file from a newer llmpack?)") from None


def number_of(profile: Profile) -> int:
    for n, p in PROFILES.items():
        if p == profile:
            return n
    raise ValueError(f"profile {profile} is not registered")
