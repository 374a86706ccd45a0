/**
 * A progress bar with ETA on stderr: one rewritten line on a terminal, a line every few seconds
 * otherwise (so logs of cluster jobs stay short).
 *
 * @module
 */
import type { RunProgress } from "./runner.ts";

/** `1h02m`, `3m05s`, `12s`. */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s >= 3600) {
    return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  }
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

/** The bar text of a progress report. */
export function progressLine(p: RunProgress, width = 24): string {
  const frac = p.total ? p.done / p.total : 1;
  const filled = Math.round(frac * width);
  const bar = "█".repeat(filled) + "░".repeat(width - filled);
  const eta = p.etaMs === null ? "ETA …" : `ETA ${formatDuration(p.etaMs)}`;
  const what = p.phase === "cells"
    ? `cells ${
      Math.floor(p.cellsDone / Math.max(1, p.total / Math.max(1, p.cellsTotal)))
    }/${p.cellsTotal} ${p.cell ?? ""}`
    : p.phase;
  return `${bar} ${
    (100 * frac).toFixed(0).padStart(3)
  }% ${what} · ${p.done}/${p.total} samples · ` +
    `${formatDuration(p.elapsedMs)} · ${eta}`;
}

/** A progress callback printing to stderr. */
export function progressPrinter(): ((p: RunProgress) => void) & { finish(): void } {
  const tty = Deno.stderr.isTerminal();
  const enc = new TextEncoder();
  let last = 0;
  let shown = false;
  const print = (p: RunProgress) => {
    const now = performance.now();
    const end = p.done === p.total;
    if (!tty && !end && now - last < 5000) return;
    last = now;
    shown = true;
    const line = progressLine(p);
    if (tty) {
      Deno.stderr.writeSync(enc.encode(`\r${line}\x1b[K${end && p.phase !== "cells" ? "\n" : ""}`));
    } else console.error(line);
  };
  return Object.assign(print, {
    finish() {
      if (tty && shown) Deno.stderr.writeSync(enc.encode("\n"));
    },
  });
}
