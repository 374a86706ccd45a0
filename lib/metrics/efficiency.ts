/**
 * Efficiency of a run: prefill time, decode time per token, tokens per second, the bytes the KV
 * cache holds (measured from its buffers, also per layer) and the process's peak resident set.
 *
 * KV bytes are read from the buffers the cache has allocated (keys, values and positions,
 * capacity included), not computed from lengths, so a recipe that compacts without releasing
 * memory shows no saving here; the bytes of the entries themselves are reported beside them.
 *
 * @example
 * ```ts
 * import { kvBytesPerLayer } from "./efficiency.ts";
 * import { KvCache } from "../runtime/kv_cache.ts";
 * const cache = new KvCache({ numLayers: 2, numKvHeads: 1, headDim: 4 });
 * cache.append(0, new Float32Array(8), new Float32Array(8), [0, 1]);
 * console.log(kvBytesPerLayer(cache)); // [72, 0]: 2 rows × 4 floats × 2 (K, V) × 4 B + 2 positions × 4 B
 * ```
 *
 * @module
 */
import type { KvCache } from "../runtime/kv_cache.ts";

/** Bytes allocated by each layer's key, value and position buffers. */
export function kvBytesPerLayer(cache: KvCache): number[] {
  return Array.from({ length: cache.numLayers }, (_, l) => cache.bytesAllocated(l));
}

/**
 * Peak resident set size of this process in bytes (Linux `VmHWM` of `/proc/self/status`), or
 * `null` where the kernel does not report it (the current RSS is not a peak, so it is not
 * substituted).
 */
export function peakRssBytes(): number | null {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(status);
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/**
 * Resets the kernel's peak-RSS mark of this process to the current RSS (Linux: writing `5` to
 * `/proc/self/clear_refs`), so that a later {@link peakRssBytes} is the peak since now. Returns
 * false where that is not possible (then peaks stay process-wide).
 */
export function resetPeakRss(): boolean {
  try {
    Deno.writeTextFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

/** Timings and sizes of one generation, as {@link efficiencyOf} reads them. */
export interface RunMeasurements {
  /** Prefill forward pass, milliseconds. */
  prefillMs: number;
  /** Policy work after prefill, milliseconds. */
  policyPrefillMs: number;
  /** Mean per decode step, milliseconds. */
  decodeMsPerToken: number;
  /** Decode steps run. */
  decodeSteps: number;
  /** Tokens generated (the first comes from the prefill). */
  generatedTokens: number;
}

/** Efficiency of one generation. */
export interface Efficiency {
  /** Prefill forward pass plus the policy's prefill work, milliseconds. */
  prefillMs: number;
  /** Mean milliseconds per decode step (0 without steps). */
  decodeMsPerToken: number;
  /** Generated tokens over the whole wall time (prefill, policy and decoding). */
  tokensPerSecond: number;
  /** Bytes of the cache buffers at the end (allocated, spare capacity included). */
  kvBytes: number;
  /** Bytes of the entries held at the end (keys, values, positions). */
  kvBytesHeld: number;
  /** Per layer, bytes of the cache buffers at the end. */
  kvBytesPerLayer: number[];
  /** Entries held at the end, over all layers. */
  kvEntries: number;
  /** Peak RSS of the process so far, bytes (null where unavailable). */
  peakRssBytes: number | null;
}

/** Efficiency of a generation from its measurements and its final cache. */
export function efficiencyOf(run: RunMeasurements, cache: KvCache): Efficiency {
  const prefillMs = run.prefillMs + run.policyPrefillMs;
  const totalMs = prefillMs + run.decodeMsPerToken * run.decodeSteps;
  const perLayer = kvBytesPerLayer(cache);
  return {
    prefillMs,
    decodeMsPerToken: run.decodeMsPerToken,
    tokensPerSecond: totalMs > 0 ? (run.generatedTokens * 1000) / totalMs : 0,
    kvBytes: perLayer.reduce((s, b) => s + b, 0),
    kvBytesHeld: cache.bytesHeld(),
    kvBytesPerLayer: perLayer,
    kvEntries: cache.entriesHeld(),
    peakRssBytes: peakRssBytes(),
  };
}

/** Means of efficiency records, field by field (per-layer bytes averaged per layer). */
export function meanEfficiency(records: readonly Efficiency[]): Efficiency {
  if (records.length === 0) {
    return {
      prefillMs: 0,
      decodeMsPerToken: 0,
      tokensPerSecond: 0,
      kvBytes: 0,
      kvBytesHeld: 0,
      kvBytesPerLayer: [],
      kvEntries: 0,
      peakRssBytes: null,
    };
  }
  const mean = (f: (e: Efficiency) => number) =>
    records.reduce((s, e) => s + f(e), 0) / records.length;
  const layers = records[0].kvBytesPerLayer.length;
  const peaks = records.map((e) => e.peakRssBytes).filter((x): x is number => x !== null);
  return {
    prefillMs: mean((e) => e.prefillMs),
    decodeMsPerToken: mean((e) => e.decodeMsPerToken),
    tokensPerSecond: mean((e) => e.tokensPerSecond),
    kvBytes: mean((e) => e.kvBytes),
    kvBytesHeld: mean((e) => e.kvBytesHeld),
    kvBytesPerLayer: Array.from({ length: layers }, (_, l) => mean((e) => e.kvBytesPerLayer[l])),
    kvEntries: mean((e) => e.kvEntries),
    peakRssBytes: peaks.length ? Math.max(...peaks) : null,
  };
}
