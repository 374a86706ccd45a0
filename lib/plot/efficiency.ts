/**
 * Decoding speed against the budget with the memory roofline beside it
 * ({@link latencyVsBudget}): measured milliseconds per decode step of each method, and the ideal
 * step the bytes read allow at the measured bandwidth.
 *
 * @example
 * ```ts
 * import { latencyVsBudget } from "./efficiency.ts";
 * import { renderSvg } from "./render.ts";
 * const spec = latencyVsBudget(
 *   [{ method: "prefixkv", budget: 0.2, msPerToken: 1.4 }, { method: "prefixkv", budget: 1, msPerToken: 1.6 }],
 *   [{ budget: 0.2, msPerToken: 0.3 }, { budget: 1, msPerToken: 0.35 }],
 * );
 * console.log(renderSvg(spec).length > 0);
 * ```
 *
 * @module
 */
import * as Plot from "@observablehq/plot";
import type { PlotSpec } from "./render.ts";

/** A measured decode step time of one method at one budget. */
export interface LatencyPoint {
  /** Method label. */
  method: string;
  /** Kept fraction in (0, 1]. */
  budget: number;
  /** Mean milliseconds per decode step. */
  msPerToken: number;
}

/** The roofline's ideal step time at one budget. */
export interface RooflinePoint {
  /** Kept fraction in (0, 1]. */
  budget: number;
  /** Bytes read over bandwidth, milliseconds. */
  msPerToken: number;
}

/**
 * Measured decode step time per method against the kept budget (solid, one colour each) with the
 * roofline's ideal (dashed, grey): the gap is what the machine spends beyond moving bytes.
 */
export function latencyVsBudget(
  measured: readonly LatencyPoint[],
  ideal: readonly RooflinePoint[],
  opts: { width?: number; logY?: boolean } = {},
): PlotSpec {
  const roof = ideal.map((p) => ({ ...p, method: "roofline (ideal)" }));
  // Sorted as Plot sorts a categorical domain, so a method keeps its colour across figures.
  const methods = [...new Set(measured.map((p) => p.method))].sort().concat("roofline (ideal)");
  return {
    width: opts.width ?? 600,
    height: 340,
    marginLeft: 50,
    grid: true,
    x: { label: "KV budget kept (%)", percent: true },
    y: {
      label: "ms per decode step",
      type: opts.logY ? "log" : "linear",
      ...(opts.logY ? {} : { zero: true }),
    },
    color: { legend: true, label: "method", domain: methods, type: "categorical" },
    marks: [
      Plot.lineY(roof, {
        x: "budget",
        y: "msPerToken",
        stroke: "method",
        strokeDasharray: "5,3",
        sort: "budget",
        className: "roofline",
      }),
      Plot.lineY(measured, { x: "budget", y: "msPerToken", stroke: "method", sort: "budget" }),
      Plot.dot(measured, {
        x: "budget",
        y: "msPerToken",
        fill: "method",
        r: 3,
        className: "measured",
      }),
    ],
  };
}
