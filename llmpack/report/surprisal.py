"""surprisal.html: each file's text coloured by what each token cost under the model.

The costs are the arithmetic encoder's own: -log2 p(token) at the step that coded it,
so the colours show exactly where the compressed bits go (segment starts, names,
numbers, markup). A token that ends inside a UTF-8 character is merged with the
following ones until the character is complete, so every span shows real text.
"""

from __future__ import annotations

import codecs
import html

from matplotlib import colormaps
from matplotlib.colors import to_hex

MAX_BITS = 16.0  # colour scale tops out here: 16 bits is a 1-in-65536 surprise
SCALE_STEPS = (0, 1, 2, 4, 8, 12, 16)
DARK_FROM = 10.0  # from here on the colour scale is dark enough to need white text
TOP_TOKENS = 15  # most surprising tokens listed under each file
_CMAP = colormaps["YlOrRd"]


def colour(bits: float) -> str:
    return to_hex(_CMAP(min(max(bits, 0.0), MAX_BITS) / MAX_BITS))


def _style(bits: float) -> str:
    """Background by cost; white text where the background is too dark for black."""
    return f"background:{colour(bits)}" + (";color:#fff" if bits >= DARK_FROM else "")


def spans(tokens: list[tuple[bytes, float]]) -> list[tuple[str, float]]:
    """(text, bits) per displayable span: tokens merged until their bytes decode."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    out: list[tuple[str, float]] = []
    pending = 0.0
    for raw, bits in tokens:
        pending += bits
        text = decoder.decode(raw)
        if text:
            out.append((text, pending))
            pending = 0.0
    tail = decoder.decode(b"", final=True)
    if tail or pending:
        out.append((tail, pending))
    return out


def _file_section(name: str, tokens: list[tuple[bytes, float]]) -> str:
    total_bits = sum(b for _, b in tokens)
    total_bytes = sum(len(t) for t, _ in tokens)
    parts = []
    for text, bits in spans(tokens):
        shown = html.escape(text).replace("\n", "\u21b5\n")
        parts.append(f'<span style="{_style(bits)}" title="{bits:.2f} bits">{shown}</span>')
    worst = sorted(spans(tokens), key=lambda s: -s[1])[:TOP_TOKENS]
    rows = "".join(
        f"<tr><td><code>{html.escape(repr(t))}</code></td><td>{b:.1f}</td></tr>" for t, b in worst
    )
    bpb = total_bits / total_bytes if total_bytes else 0.0
    return (
        f"<section><h2>{html.escape(name)}</h2>"
        f"<p>{len(tokens)} tokens, {total_bytes} bytes (line ends as coded: CRLF files are coded as LF): "
        f"the model's cost is {total_bits / 8:.0f} bytes "
        f"({bpb:.3f} bits/byte, {total_bits / max(1, len(tokens)):.2f} bits/token).</p>"
        f'<div class="text">{"".join(parts)}</div>'
        f"<details><summary>The {len(worst)} most surprising tokens</summary>"
        f"<table><tr><th>token</th><th>bits</th></tr>{rows}</table></details></section>"
    )


def render(files: dict[str, list[tuple[bytes, float]]], model: str) -> str:
    legend = "".join(f'<span class="key" style="{_style(b)}">{b}{"+" if b == MAX_BITS else ""}</span>' for b in SCALE_STEPS)
    body = "".join(_file_section(name, tokens) for name, tokens in files.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>llmpack surprisal</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }}
.text {{ font-family: ui-monospace, monospace; white-space: pre-wrap; line-height: 1.5; border: 1px solid #ccc; padding: 1em; }}
.key {{ display: inline-block; min-width: 2.5em; text-align: center; padding: 0.1em 0.3em; font-family: monospace; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 0.2em 0.6em; }}
</style></head><body>
<h1>Where the bits go</h1>
<p>Each token is coloured by how many bits it cost under {html.escape(model)} in llmpack's
<code>arithmetic</code> mode (&minus;log<sub>2</sub> of the probability the model gave it,
the cost the range coder pays). Hover a token for its exact cost; &#8629; marks a line end.</p>
<p>Bits per token: {legend}</p>
{body}
</body></html>
"""
