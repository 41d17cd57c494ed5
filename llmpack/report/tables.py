"""report.json rows and report.md tables."""

from __future__ import annotations

from dataclasses import dataclass

from .measure import Row

LOSSY = ("summary", "fidelity")  # codecs whose output is an approximation

JSON_KEYS = ("file", "codec", "setting", "original_bytes", "compressed_bytes", "bpb", "ratio",
             "encode_s", "decode_s", "exact", "similarity")


def json_rows(rows: list[Row]) -> list[dict]:
    out = []
    for r in rows:
        d = r.as_dict()
        out.append({k: d[k] for k in JSON_KEYS})
    return out


@dataclass
class Total:
    """One codec/setting over all files: sizes summed, similarity averaged."""

    label: str
    lossless: bool
    original_bytes: int
    compressed_bytes: int
    encode_s: float
    decode_s: float
    exact: bool
    similarity: float

    @property
    def bpb(self) -> float:
        return 8 * self.compressed_bytes / self.original_bytes if self.original_bytes else 0.0

    def kbps(self, seconds: float) -> float:
        return self.original_bytes / 1000 / seconds if seconds > 0 else float("inf")


def totals(rows: list[Row]) -> list[Total]:
    labels = list(dict.fromkeys(r.label for r in rows))
    out = []
    for label in labels:
        rs = [r for r in rows if r.label == label]
        out.append(Total(
            label, rs[0].codec not in LOSSY,
            sum(r.original_bytes for r in rs), sum(r.compressed_bytes for r in rs),
            sum(r.encode_s for r in rs), sum(r.decode_s for r in rs),
            all(r.exact for r in rs), sum(r.similarity for r in rs) / len(rs),
        ))
    return out


def _kbps(v: float) -> str:
    return "inf" if v == float("inf") else f"{v:,.2f}" if v < 100 else f"{v:,.0f}"


def findings(rows: list[Row]) -> list[str]:
    """Plain sentences on what the figures show, computed from them."""
    ts = totals(rows)
    lines = []
    lossless = [t for t in ts if t.lossless and t.exact]
    baselines = [t for t in lossless if t.label.split()[0] not in ("arithmetic", "semantic")]
    ours = {t.label: t for t in ts}
    if "arithmetic" in ours and baselines:
        best = min(baselines, key=lambda t: t.bpb)
        a = ours["arithmetic"]
        factor = best.bpb / a.bpb if a.bpb else float("inf")
        size = f"{factor:.2f}x smaller than" if factor >= 1 else f"{1 / factor:.2f}x larger than"
        lines.append(
            f"Lossless: `arithmetic` codes these files at {a.bpb:.3f} bits/byte, {size} the best classic "
            f"compressor here ({best.label}, {best.bpb:.3f}), and it is "
            f"{best.kbps(best.encode_s) / a.kbps(a.encode_s):,.0f}x slower to encode."
        )
    if "semantic" in ours and "arithmetic" in ours:
        lines.append(
            f"`semantic` is exact too, at {ours['semantic'].bpb:.3f} bits/byte: "
            f"{ours['semantic'].bpb / ours['arithmetic'].bpb:.1f}x the size of `arithmetic`."
        )
    lossy = [t for t in ts if not t.lossless]
    if lossy:
        parts = "; ".join(f"{t.label}: {t.bpb:.3f} bits/byte at similarity {t.similarity:.3f}" for t in lossy)
        lines.append(f"Lossy: {parts} (similarity: mean over files; 1.0 = the same meaning).")
    if not all(r.exact for r in rows if r.codec not in LOSSY):
        bad = ", ".join(f"{r.file} {r.label}" for r in rows if r.codec not in LOSSY and not r.exact)
        lines.append(f"**Round-trip failures: {bad}.**")
    return lines


def markdown(rows: list[Row], meta: dict, images: list[tuple[str, str]]) -> str:
    out = ["# llmpack report", ""]
    out += [f"- {k}: {v}" for k, v in meta.items()]
    out += ["", "## Summary", ""]
    out += [f"- {line}" for line in findings(rows)]
    out += ["", "All files together (sizes summed; similarity is the mean over files):", ""]
    out += ["| codec | bits/byte | ratio | similarity | exact | encode KB/s | decode KB/s |",
            "|---|---:|---:|---:|---|---:|---:|"]
    for t in totals(rows):
        ratio = t.original_bytes / t.compressed_bytes if t.compressed_bytes else 0.0
        out.append(f"| {t.label} | {t.bpb:.3f} | {ratio:.2f} | {t.similarity:.3f} | {'yes' if t.exact else 'no'} "
                   f"| {_kbps(t.kbps(t.encode_s))} | {_kbps(t.kbps(t.decode_s))} |")
    out.append("")
    for title, path in images:
        out += [f"![{title}]({path})", ""]
    for name in dict.fromkeys(r.file for r in rows):
        rs = [r for r in rows if r.file == name]
        out += [f"## {name} ({rs[0].original_bytes:,} bytes)", "",
                "| codec | setting | compressed bytes | bits/byte | ratio | similarity | exact | encode s | decode s |",
                "|---|---|---:|---:|---:|---:|---|---:|---:|"]
        for r in rs:
            out.append(f"| {r.codec} | {r.setting} | {r.compressed_bytes:,} | {r.bpb:.3f} | {r.ratio:.2f} | {r.similarity:.3f} "
                       f"| {'yes' if r.exact else 'no'} | {r.encode_s:.3f} | {r.decode_s:.3f} |")
        out.append("")
    return "\n".join(out)
