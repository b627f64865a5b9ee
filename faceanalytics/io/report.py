"""A self-contained HTML report of a video run: plots over time per track, thumbnails, summary.

No scripts and no network: plots are inline SVG, thumbnails inline JPEG (base64). Open it in any
browser, attach it to an email, archive it.
"""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from faceanalytics.io.video_outputs import valid_result
from faceanalytics.runtime.atomic import AtomicFile
from faceanalytics.video.results import StreamFrame

__all__ = ["ReportBuilder"]

_W, _H, _PAD = 860, 170, 36
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


@dataclass
class _Series:
    t: list[float] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=dict)
    thumb: str | None = None

    def add(self, t: float, **values: float | None) -> None:
        self.t.append(t)
        for k, v in values.items():
            self.values.setdefault(k, []).append(math.nan if v is None else float(v))


def _svg(title: str, t: list[float], lines: dict[str, list[float]], events: list[dict[str, Any]], unit: str) -> str:
    """A line chart: ``lines`` over ``t``, shaded event intervals."""
    if len(t) < 2:
        return f"<p>{html.escape(title)}: not enough frames</p>"
    ts = np.asarray(t)
    finite = [np.asarray(v, float) for v in lines.values()]
    allv = np.concatenate([v[np.isfinite(v)] for v in finite]) if finite else np.zeros(0)
    lo, hi = (float(allv.min()), float(allv.max())) if allv.size else (0.0, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1
    t0, t1 = float(ts[0]), float(ts[-1]) if ts[-1] > ts[0] else float(ts[0]) + 1

    def x(v: float) -> float:
        return _PAD + (v - t0) / (t1 - t0) * (_W - 2 * _PAD)

    def y(v: float) -> float:
        return _H - _PAD / 2 - (v - lo) / (hi - lo) * (_H - 1.5 * _PAD)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" role="img" aria-label="{html.escape(title)}">',
        f'<rect width="{_W}" height="{_H}" fill="#fff" stroke="#ddd"/>',
    ]
    for e in events:
        x0, x1 = x(max(e["start"], t0)), x(min(e["end"], t1))
        parts.append(
            f'<rect x="{x0:.1f}" y="{_PAD / 2:.1f}" width="{max(x1 - x0, 1.5):.1f}" height="{_H - 1.5 * _PAD:.1f}" '
            f'fill="#f4b400" opacity="0.35"><title>{e["kind"]} {e["start"]:.2f}-{e["end"]:.2f} s</title></rect>'
        )
    for i, (name, vals) in enumerate(lines.items()):
        pts, segs = [], []
        for tv, v in zip(ts, vals, strict=True):
            if math.isfinite(v):
                pts.append(f"{x(tv):.1f},{y(v):.1f}")
            elif pts:
                segs.append(pts)
                pts = []
        segs.append(pts)
        colour = _COLOURS[i % len(_COLOURS)]
        dash = ' stroke-dasharray="5,4"' if name.endswith("threshold") else ""
        for seg in segs:
            if len(seg) > 1:
                parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.4"{dash} points="{" ".join(seg)}"/>')
        parts.append(
            f'<text x="{_W - _PAD - 150 + 0 * i}" y="{14 + 13 * i}" font-size="11" fill="{colour}">{html.escape(name)}</text>'
        )
    parts += [
        f'<text x="4" y="14" font-size="12" font-weight="bold">{html.escape(title)}</text>',
        f'<text x="4" y="{y(hi) + 4:.0f}" font-size="10">{hi:.2f}{unit}</text>',
        f'<text x="4" y="{y(lo):.0f}" font-size="10">{lo:.2f}{unit}</text>',
        f'<text x="{_PAD}" y="{_H - 4}" font-size="10">{t0:.1f} s</text>',
        f'<text x="{_W - _PAD - 30}" y="{_H - 4}" font-size="10">{t1:.1f} s</text>',
        "</svg>",
    ]
    return "".join(parts)


class ReportBuilder:
    """Collects per-track series from stream frames and writes the HTML report."""

    def __init__(self) -> None:
        self._tracks: dict[int, _Series] = {}

    def add(self, fr: StreamFrame, image: np.ndarray) -> None:
        for face in fr.faces:
            s = self._tracks.setdefault(int(face.track_id or 0), _Series())
            pose, eyes, mouth = valid_result(face.head_pose), valid_result(face.eyes), valid_result(face.mouth)
            s.add(
                fr.timestamp,
                ear=eyes.ear if eyes else None,
                ear_threshold=eyes.threshold if eyes else None,
                yaw=pose.yaw if pose else None,
                pitch=pose.pitch if pose else None,
                roll=pose.roll if pose else None,
                mar=mouth.mar if mouth else None,
                smile=mouth.smile if mouth else None,
                score=face.score,
            )
            if s.thumb is None:
                x1, y1, x2, y2 = (round(float(v)) for v in face.box)
                crop = image[max(y1, 0) : max(y2, 0), max(x1, 0) : max(x2, 0)]
                if crop.size:
                    ok_, buf = cv2.imencode(".jpg", cv2.resize(crop, (96, 96)), [cv2.IMWRITE_JPEG_QUALITY, 85])
                    s.thumb = base64.b64encode(buf.tobytes()).decode() if ok_ else None

    def write(self, path: Path, summary: dict[str, Any]) -> None:
        """Write the report; ``summary`` is :meth:`SummaryBuilder.to_dict`'s output."""
        by_id = {t["track_id"]: t for t in summary["tracks"]}
        rows, sections = [], []
        for tid, s in sorted(self._tracks.items()):
            tr = by_id.get(tid, {})
            events = tr.get("events", [])
            fmt = lambda v, f="{:.2f}": "" if v is None else f.format(v)  # noqa: E731
            img = f'<img alt="track {tid}" src="data:image/jpeg;base64,{s.thumb}">' if s.thumb else ""
            rows.append(
                f"<tr><td>{img}</td><td>{tid}</td><td>{fmt(tr.get('duration'), '{:.1f}')}</td><td>{tr.get('blinks', '')}</td>"
                f"<td>{fmt(tr.get('blinks_per_minute'), '{:.1f}')}</td><td>{fmt(tr.get('perclos'), '{:.3f}')}</td>"
                f"<td>{tr.get('microsleeps', '')}</td><td>{tr.get('yawns', '')}</td><td>{tr.get('smiles', '')}</td>"
                f"<td>{fmt((tr.get('score') or {}).get('mean'), '{:.3f}')}</td></tr>"
            )
            eye_ev = [e for e in events if e["kind"] in ("blink", "microsleep")]
            mouth_ev = [e for e in events if e["kind"] in ("yawn", "smile")]
            v = s.values
            sections.append(
                f"<h2>Track {tid}</h2>"
                + _svg(
                    "Eye aspect ratio (shaded: blinks, microsleeps)",
                    s.t,
                    {"ear": v["ear"], "ear threshold": v["ear_threshold"]},
                    eye_ev,
                    "",
                )
                + _svg("Head pose", s.t, {"yaw": v["yaw"], "pitch": v["pitch"], "roll": v["roll"]}, [], "°")
                + _svg("Mouth (shaded: yawns, smiles)", s.t, {"mar": v["mar"], "smile": v["smile"]}, mouth_ev, "")
                + _svg(
                    "Score (the detector's where it ran, else the tracking confidence; docs/video.md)",
                    s.t,
                    {"score": v["score"]},
                    [],
                    "",
                )
            )
        title = html.escape(Path(str(summary.get("source", "video"))).name)
        why = summary.get("stopped") or ("interrupted" if summary.get("interrupted") else None)
        note = f" ({html.escape(str(why))}: the report covers the frames processed)" if why else ""
        doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>faceanalytics report: {title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:24px;color:#222}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}svg{{display:block;margin:8px 0}}</style></head>
<body><h1>faceanalytics report: {title}</h1>
<p>{summary.get("frames", 0)} frames, {len(self._tracks)} tracks{note}.</p>
<table><tr><th></th><th>track</th><th>duration s</th><th>blinks</th><th>blinks/min</th><th>PERCLOS</th>
<th>microsleeps</th><th>yawns</th><th>smiles</th><th>mean score</th></tr>
{"".join(rows)}</table>
{"".join(sections)}
</body></html>
"""
        with AtomicFile(path) as tmp:
            tmp.write_text(doc, encoding="utf-8")
