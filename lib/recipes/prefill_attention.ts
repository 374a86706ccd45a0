/**
 * The prefill attention a part asked for, checked: a missing or misshapen report is a runtime
 * bug (the policy's `needs` tell the runtime what to send), so these throw plain errors naming
 * the part.
 *
 * @module
 */
import type { PrefillInfo } from "../runtime/cache_policy.ts";

/** Every layer's head-averaged `[N, N]` matrix (`needs: "matrices"`). */
export function prefillMatrices(info: PrefillInfo, numLayers: number, who: string): Float32Array[] {
  const att = info.attention;
  const n = info.promptLength;
  if (!att || att.length !== numLayers) {
    throw new Error(
      `${who}: the runtime reported ${att?.length ?? "no"} attention matrices for ` +
        `${numLayers} layers`,
    );
  }
  att.forEach((m, l) => {
    if (m.length !== n * n) throw new Error(`${who}: layer ${l} attention is not N × N`);
  });
  return att;
}

/**
 * Every layer's per-head matrices (`needs: "headMatrices"`), each head an `[N, N]` subarray of
 * the runtime's `[heads, N, N]` buffer (no copy).
 */
export function prefillHeadMatrices(
  info: PrefillInfo,
  numLayers: number,
  who: string,
): Float32Array[][] {
  const heads = info.headAttention;
  const n = info.promptLength;
  if (!heads || heads.length !== numLayers) {
    throw new Error(
      `${who}: the runtime reported ${heads?.length ?? "no"} per-head attention layers for ` +
        `${numLayers} layers`,
    );
  }
  return heads.map((m, l) => {
    const count = m.length / (n * n);
    if (!Number.isInteger(count) || count < 1) {
      throw new Error(`${who}: layer ${l} per-head attention is not heads × N × N`);
    }
    return Array.from({ length: count }, (_, h) => m.subarray(h * n * n, (h + 1) * n * n));
  });
}
