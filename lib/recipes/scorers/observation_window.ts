/**
 * SnapKV's criterion: the attention that the last `w` prompt queries (the observation window)
 * pay to each earlier entry, summed over the window and smoothed by a 1-D pool of width
 * `kernel` (max or average, stride 1, zero/−∞ padding of kernel/2 as in PyTorch's pool1d with
 * `count_include_pad`). The window itself is always kept by the matching selection, so its own
 * entries keep their raw (unpooled) window sums.
 *
 * Needs the prefill attention matrices (head-averaged), since the window's rows are not in the
 * column-sum importance.
 *
 * @module
 */
import { InputError } from "../../errors.ts";
import type { Scorer } from "../recipe.ts";

/** SnapKV scorer options. */
export interface ObservationWindowOptions {
  /** Observation window w (default 32); a prompt of N uses min(w, N/4), at least 1. */
  window?: number;
  /** Pooling kernel width, odd (default 5). */
  kernel?: number;
  /** Pooling kind (default "max"). */
  pooling?: "max" | "avg";
}

/** The observation window a prompt of `promptLength` uses: min(w, ⌊N/4⌋), at least 1. */
export function observationWindowSize(promptLength: number, window: number): number {
  return Math.max(1, Math.min(window, Math.floor(promptLength / 4)));
}

/** Checks SnapKV options, filling defaults; throws {@link InputError} on bad values. */
export function checkWindowOptions(
  o: ObservationWindowOptions,
): Required<ObservationWindowOptions> {
  const window = o.window ?? 32;
  const kernel = o.kernel ?? 5;
  const pooling = o.pooling ?? "max";
  if (!Number.isInteger(window) || window < 1) {
    throw new InputError(`snapkv: --window must be a positive integer, got ${window}`);
  }
  if (!Number.isInteger(kernel) || kernel < 1 || kernel % 2 === 0) {
    throw new InputError(`snapkv: --kernel must be a positive odd integer, got ${kernel}`);
  }
  if (pooling !== "max" && pooling !== "avg") {
    throw new InputError(`snapkv: --pooling must be "max" or "avg", got "${pooling}"`);
  }
  return { window, kernel, pooling };
}

/** Pools `values` with a centred window of width `kernel` (odd), padding kernel/2 per side. */
export function pool1d(values: Float64Array, kernel: number, kind: "max" | "avg"): Float32Array {
  const n = values.length;
  const half = (kernel - 1) / 2;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let acc = kind === "max" ? -Infinity : 0;
    for (let j = i - half; j <= i + half; j++) {
      if (j < 0 || j >= n) continue; // zero padding adds nothing to a sum; −∞ never wins a max
      acc = kind === "max" ? Math.max(acc, values[j]) : acc + values[j];
    }
    out[i] = kind === "max" ? acc : acc / kernel;
  }
  return out;
}

/** The SnapKV observation-window scorer. */
export function observationWindow(options: ObservationWindowOptions = {}): Scorer {
  const { window, kernel, pooling } = checkWindowOptions(options);
  return {
    name: `observation-window(w=${window},${pooling}${kernel})`,
    needs: "matrices",
    layerShared: false,
    score(info, numLayers) {
      const att = info.attention;
      const n = info.promptLength;
      if (!att || att.length !== numLayers) {
        throw new Error(
          `scorer snapkv: the runtime reported ${att?.length ?? "no"} attention matrices for ` +
            `${numLayers} layers`,
        );
      }
      const w = observationWindowSize(n, window);
      return att.map((m, l) => {
        if (m.length !== n * n) {
          throw new Error(`scorer snapkv: layer ${l} attention has ${m.length} values, not N²`);
        }
        const sums = new Float64Array(n);
        for (let q = n - w; q < n; q++) {
          const row = q * n;
          for (let k = 0; k <= q; k++) sums[k] += m[row + k];
        }
        const prefix = pool1d(sums.subarray(0, n - w), kernel, pooling);
        const out = new Float32Array(n);
        out.set(prefix);
        for (let k = n - w; k < n; k++) out[k] = sums[k];
        return out;
      });
    },
  };
}
