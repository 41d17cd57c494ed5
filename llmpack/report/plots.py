"""The report's PNG plots (matplotlib, no display needed).

bpb.png         bits/byte per codec, one bar per file
frontier.png    bits/byte against similarity: what each size buys in meaning
throughput.png  encode and decode speed per codec (log scale: baselines are ~10^5x faster)
"""

from __future__ import annotations

import math
from typing import BinaryIO

import matplotlib

matplotlib.use("Agg")  # files only; never needs a screen

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from .measure import Row  # noqa: E402
from .tables import totals  # noqa: E402

DPI = 120
MARKERS = "osD^vP*Xh<>"
_FILE_COLOURS = plt.get_cmap("tab10")


def short(label: str) -> str:
    """Plot label: "summary prompt_tokens=16, seeds=4" -> "summary p=16, s=4"."""
    return label.replace("prompt_tokens=", "p=").replace("seeds=", "s=")


def _labels(rows: list[Row]) -> list[str]:
    return list(dict.fromkeys(r.label for r in rows))


def _files(rows: list[Row]) -> list[str]:
    return list(dict.fromkeys(r.file for r in rows))


def _codec_colours(labels: list[str]) -> dict[str, str]:
    """Baselines in greys/blues, llmpack's lossless modes green/purple, summary settings warm,
    fidelity levels cool."""
    fixed = {"gzip": "#9e9e9e", "bz2": "#757575", "xz": "#5c6bc0", "zstd": "#1e88e5", "brotli": "#26a69a",
             "arithmetic": "#2e7d32", "semantic": "#8e24aa"}
    scales = {"summary": plt.get_cmap("autumn"), "fidelity": plt.get_cmap("winter")}
    out = {}
    for label in labels:
        codec = label.split()[0]
        if codec in scales:
            group = [x for x in labels if x.split()[0] == codec]
            out[label] = scales[codec](0.75 * group.index(label) / max(1, len(group) - 1))
        else:
            out[label] = fixed.get(codec, "#000000")
    return out


def _curves(rs: list[Row]) -> list[tuple[list[Row], str]]:
    """One file's lossy curves: summary budgets per seed count, and fidelity up to exact."""
    out = []
    for seeds in dict.fromkeys(r.setting.partition("seeds=")[2] for r in rs if r.codec == "summary"):
        out.append(([r for r in rs if r.codec == "summary" and r.setting.partition("seeds=")[2] == seeds], "#bf360c"))
    fidelity = [r for r in rs if r.codec == "fidelity"] + [r for r in rs if r.codec == "arithmetic"]
    out.append((fidelity, "#0277bd"))
    return [(sorted(c, key=lambda r: r.bpb), colour) for c, colour in out if len(c) > 1]


def bpb(rows: list[Row], out: BinaryIO) -> None:
    labels, files = _labels(rows), _files(rows)
    height = len(files) and 0.8 / len(files)
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.45 * len(labels) * max(1, len(files)) ** 0.5))
    for j, name in enumerate(files):
        values = {r.label: r.bpb for r in rows if r.file == name}
        ys = [i + (j - (len(files) - 1) / 2) * height for i in range(len(labels))]
        xs = [values.get(label, 0.0) for label in labels]
        bars = ax.barh(ys, xs, height=height, color=_FILE_COLOURS(j), label=name)
        ax.bar_label(bars, fmt="%.2f", padding=2, fontsize=7)
    ax.set_yticks(range(len(labels)), [short(x) for x in labels])
    ax.invert_yaxis()
    ax.set_xlabel("bits per byte (lower is smaller)")
    ax.set_title("Compressed size by codec")
    ax.set_xlim(0, max((r.bpb for r in rows), default=1) * 1.15)
    ax.legend(title="file", loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)


def frontier(rows: list[Row], out: BinaryIO) -> None:
    labels, files = _labels(rows), _files(rows)
    colours = _codec_colours(labels)
    fig, ax = plt.subplots(figsize=(11, 5.5))
    for j, name in enumerate(files):
        rs = [r for r in rows if r.file == name]
        for r in rs:
            ax.scatter(r.bpb, r.similarity, s=60, marker=MARKERS[j % len(MARKERS)], color=colours[r.label],
                       edgecolors="black", linewidths=0.5, zorder=3)
        for curve, colour in _curves(rs):  # one file's size/meaning curves
            ax.plot([r.bpb for r in curve], [r.similarity for r in curve], color=colour, alpha=0.5, zorder=2)
    codec_handles = [Line2D([], [], marker="o", linestyle="", color=colours[label], markeredgecolor="black",
                            markersize=8, label=short(label)) for label in labels]
    file_handles = [Line2D([], [], marker=MARKERS[j % len(MARKERS)], linestyle="", color="#bbbbbb",
                           markeredgecolor="black", markersize=8, label=name) for j, name in enumerate(files)]
    first = ax.legend(handles=codec_handles, title="codec", loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    ax.add_artist(first)
    ax.legend(handles=file_handles, title="file", loc="lower left", bbox_to_anchor=(1.01, 0), fontsize=8)
    low = min((r.similarity for r in rows), default=0.0)
    ax.set_ylim(min(0.0, low - 0.05), 1.05)
    ax.set_xlim(0, max((r.bpb for r in rows), default=1) * 1.08)
    ax.axhline(1.0, color="#888888", linestyle=":", linewidth=1)
    ax.set_xlabel("bits per byte (lower is smaller)")
    ax.set_ylabel("similarity to the original (MiniLM cosine; exact = 1.0)")
    ax.set_title("Size against meaning kept")
    ax.grid(alpha=0.3)
    fig.subplots_adjust(left=0.08, right=0.74)  # room on the right for the two legends
    fig.savefig(out, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)


def throughput(rows: list[Row], out: BinaryIO) -> None:
    ts = totals(rows)
    labels = [t.label for t in ts]
    colours = _codec_colours(labels)
    fig, axes = plt.subplots(1, 2, figsize=(10, 1.2 + 0.4 * len(labels)), sharey=True)
    for ax, (title, pick) in zip(axes, (("encode", lambda t: t.encode_s), ("decode", lambda t: t.decode_s))):
        speeds = [max(t.kbps(pick(t)), 1e-3) if pick(t) > 0 else float("nan") for t in ts]
        bars = ax.barh(range(len(ts)), speeds, color=[colours[label] for label in labels])
        ax.bar_label(bars, labels=[f"{v:,.2f}" if v < 100 else f"{v:,.0f}" for v in speeds], padding=2, fontsize=7)
        ax.set_xscale("log")
        measured = [s for s in speeds if not math.isnan(s)]
        ax.set_xlim(min(measured) / 3, max(measured) * 30)
        ax.set_xlabel(f"{title} speed, KB/s (log scale)")
        ax.set_title(title.capitalize())
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(ts)), [short(x) for x in labels])
    axes[0].invert_yaxis()
    fig.suptitle("Throughput, all files together (model loading excluded)")
    fig.tight_layout()
    fig.savefig(out, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)


PLOTS = {"bpb.png": ("Bits per byte by codec and file", bpb),
         "frontier.png": ("Size/similarity frontier", frontier),
         "throughput.png": ("Throughput", throughput)}
