/**
 * Runtime costs that PrefixKV changes, measured as ratios within one run (`deno task bench`):
 *
 * - **Calibration overhead per sample**: a prefill that also returns per-layer importance, plus
 *   the global prefix search, against a plain prefill of the same prompt.
 * - **Decode cost follows the entries kept**: one decode step over a full cache against the same
 *   step after PrefixKV kept 20 % and 50 % of the prompt (online search).
 *
 * The model is a random LLaMA written at start-up (8 layers, hidden 256, 8 query / 4 KV heads,
 * 1024-token prompt), so the numbers are about the runtime, not about a checkpoint.
 *
 * @module
 */
import { prefixSearch } from "../../lib/prefix/search.ts";
import { createRecipe } from "../../lib/recipes/mod.ts";
import type { KvCache } from "../../lib/runtime/kv_cache.ts";
import { loadModel } from "../../lib/runtime/model.ts";
import { randomLlama } from "./random_llama.ts";

const PROMPT = 1024;
const model = await loadModel(
  randomLlama({
    vocab: 2000,
    hidden: 256,
    intermediate: 688,
    layers: 8,
    heads: 8,
    kvHeads: 4,
    maxPositions: 2048,
    seed: 7,
  }),
  { cacheDir: false },
);
const ids = Array.from({ length: PROMPT }, (_, i) => 5 + ((i * 7919) % 1990));
const embeds = model.embedTokens(ids);
await model.prepare("none", "last");
await model.prepare("importance", "last");

Deno.bench({
  name: "prefill, no attention outputs",
  group: "calibration overhead per sample (1024 tokens)",
  baseline: true,
  async fn() {
    await model.prefill(embeds, { logits: "last" });
  },
});

Deno.bench({
  name: "prefill with importance + prefix search",
  group: "calibration overhead per sample (1024 tokens)",
  async fn() {
    const out = await model.prefill(embeds, { attention: "importance", logits: "last" });
    prefixSearch(out.importance!, { budget: 0.2 });
  },
});

/** A prompt cache after the given recipe's prefill retention. */
async function cacheAfter(method: string, fraction: number): Promise<KvCache> {
  const policy = createRecipe(method).policy({ fraction });
  const out = await model.prefill(embeds, {
    attention: policy.needs.prefill === "none" ? "none" : "importance",
    logits: "last",
  });
  policy.afterPrefill(out.cache, { promptLength: PROMPT, importance: out.importance });
  return out.cache;
}

const caches: [string, KvCache][] = [
  ["full cache", await cacheAfter("full", 1)],
  ["prefixkv 50%", await cacheAfter("prefixkv", 0.5)],
  ["prefixkv 20%", await cacheAfter("prefixkv", 0.2)],
];
for (const [name, cache] of caches) {
  Deno.bench({
    name: `decode step, ${name} (${cache.entriesHeld()} entries)`,
    group: "decode step over the kept cache",
    baseline: name === "full cache",
    async fn() {
      await model.step(7, cache, PROMPT);
      // Drop the appended entry again so every iteration sees the same cache.
      for (let l = 0; l < cache.numLayers; l++) cache.evict(l, cache.length(l) - 1);
    },
  });
}
