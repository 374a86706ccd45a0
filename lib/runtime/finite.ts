/**
 * The non-finite check of a decoder run: NaN or ±Inf in the prompt embeddings, a layer's new
 * keys or values, its attention importance, or the logits stops the run with a
 * {@link NumericError} saying what and where (which layer, prefill or which decode position),
 * instead of generating `<pad>` tokens or searching budgets on NaN. The scan costs one pass over
 * each output, small next to the run itself.
 *
 * @example
 * ```ts
 * import { checkFiniteRun } from "./finite.ts";
 * const outputs = { logits: { data: new Float32Array([0.5, NaN]) } };
 * try {
 *   checkFiniteRun(new Float32Array([1, 2]), outputs, { numLayers: 0, position: 0, rows: 1 });
 * } catch (e) {
 *   console.log((e as Error).message); // NaN in the logits (row 0, value 1) at prefill …
 * }
 * ```
 *
 * @module
 */
import { NumericError } from "../errors.ts";
import { llamaNames } from "../graph/llama_graph.ts";

/** Where a run sits: layer count, the first row's position and the row count. */
export interface RunPlace {
  /** Decoder layers. */
  numLayers: number;
  /** Position of the first fed row. */
  position: number;
  /** Rows fed. */
  rows: number;
}

/** Index of the first NaN or ±Inf in `data`, or −1. */
export function firstNonFinite(data: ArrayLike<number>): number {
  for (let i = 0; i < data.length; i++) {
    const x = data[i];
    if (x - x !== 0) return i; // NaN − NaN and Inf − Inf are NaN
  }
  return -1;
}

/**
 * Throws a {@link NumericError} at the first non-finite value of the run: the input embeddings
 * first (a cause, not a consequence), then each layer's keys, values and importance in layer
 * order, then the logits.
 */
export function checkFiniteRun(
  embeds: Float32Array,
  outputs: Record<string, { data: unknown }>,
  place: RunPlace,
): void {
  const when = place.position === 0
    ? `at prefill (positions 0–${place.rows - 1})`
    : place.rows === 1
    ? `at the decode step at position ${place.position}`
    : `at positions ${place.position}–${place.position + place.rows - 1}`;
  const fail = (what: string, data: ArrayLike<number>, at: number, cause: string): never => {
    throw new NumericError(
      `${Number.isNaN(data[at]) ? "NaN" : data[at]} in ${what} (value ${at}) ${when}: ${cause}; ` +
        `the run stops because every later number would be meaningless`,
    );
  };
  const bad = firstNonFinite(embeds);
  if (bad >= 0) {
    fail(
      "the prompt embeddings",
      embeds,
      bad,
      "the checkpoint's embed_tokens weights, the image features (vision tower and projector " +
        "weights) or the given embeddings hold non-finite values",
    );
  }
  for (let l = 0; l < place.numLayers; l++) {
    for (
      const [name, what] of [
        [llamaNames.newKey(l), `layer ${l}'s keys`],
        [llamaNames.newValue(l), `layer ${l}'s values`],
        [llamaNames.importance(l), `layer ${l}'s attention importance`],
      ]
    ) {
      const data = outputs[name]?.data as Float32Array | undefined;
      if (!data) continue;
      const at = firstNonFinite(data);
      if (at >= 0) {
        fail(
          what,
          data,
          at,
          `the weights of layer ${l} (or of the layers before it) hold NaN/Inf or overflow; ` +
            `check the checkpoint's tensors of those layers`,
        );
      }
    }
  }
  const logits = outputs.logits?.data as Float32Array | undefined;
  if (logits) {
    const at = firstNonFinite(logits);
    if (at >= 0) {
      fail(
        "the logits",
        logits,
        at,
        "the final norm or LM head weights hold NaN/Inf or overflow; check those tensors",
      );
    }
  }
}
