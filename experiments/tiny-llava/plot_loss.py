#!/usr/bin/python3
"""Writes loss_curve.svg (log-scale answer loss, auxiliary patch loss and question-grounding
loss against step) from train_log.csv. Hand-written SVG, no plotting library needed."""
import csv
import math
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    rows = list(csv.DictReader(open(os.path.join(HERE, "train_log.csv"))))
    steps = [int(r["step"]) for r in rows]
    series = [("lm_loss", "answer tokens (LM)", "#1f77b4"), ("aux_loss", "patch labels (aux)", "#ff7f0e"),
              ("ground_loss", "question grounding", "#2ca02c")]
    W, H, L, R, T, B = 640, 360, 60, 20, 20, 50
    lo, hi = -4, 1  # log10 range 1e-4 .. 10
    xmax = max(steps)

    def x(s):
        return L + (W - L - R) * s / xmax

    def y(v):
        lv = min(hi, max(lo, math.log10(max(v, 1e-12))))
        return T + (H - T - B) * (hi - lv) / (hi - lo)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">',
           f'<rect width="{W}" height="{H}" fill="white"/>']
    for e in range(lo, hi + 1):
        out.append(f'<line x1="{L}" x2="{W - R}" y1="{y(10 ** e):.1f}" y2="{y(10 ** e):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{L - 6}" y="{y(10 ** e) + 4:.1f}" text-anchor="end">1e{e}</text>')
    for k in range(0, 6):
        s = round(xmax * k / 5)
        out.append(f'<text x="{x(s):.1f}" y="{H - B + 16}" text-anchor="middle">{s}</text>')
    out.append(f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">step (batch 16)</text>')
    out.append(f'<rect x="{L}" y="{T}" width="{W - L - R}" height="{H - T - B}" fill="none" stroke="#333"/>')
    for i, (key, label, color) in enumerate(series):
        # a term is drawn where it was trained (the grounding loss only in the last phase)
        pts = " ".join(f"{x(s):.1f},{y(float(r[key])):.1f}" for s, r in zip(steps, rows)
                       if float(r.get(key) or 0) > 0)
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{pts}"/>')
        out.append(f'<text x="{W - R - 150}" y="{T + 18 + 16 * i}" fill="{color}">{label}</text>')
    out.append("</svg>")
    with open(os.path.join(HERE, "loss_curve.svg"), "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
