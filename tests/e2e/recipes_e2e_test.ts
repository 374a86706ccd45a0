/**
 * Every registered recipe on real (tiny) models through the real runtime: budget 100 % gives
 * the full cache's generation exactly, and at budgets 10–90 % the per-layer cache lengths after
 * prefill and after 20 generated tokens are what the recipes define, with memory proportional
 * to the entries held and no NaN anywhere. Online PrefixKV's counts equal the prefix search on
 * the prefill importance.
 */
import { assert, assertEquals } from "@std/assert";
import { prefixSearch } from "../../lib/prefix/search.ts";
import {
  allowedLength,
  type ComposedPolicy,
  createRecipe,
  listRecipes,
  recipeNames,
} from "../../lib/recipes/mod.ts";
import { retentionReport } from "../../lib/recipes/report.ts";
import { policyFromArgs } from "../../lib/recipes/from_args.ts";
import { generate } from "../../lib/runtime/generate.ts";
import { ObservedPolicy } from "../../lib/runtime/observed_policy.ts";
import { fullBudgetPair } from "../recipes/harness.ts";
import { failOnNonFiniteLogits, TINY, type TinyCase, tinyCases } from "./_models.ts";

const TOKENS = 20;
const BUDGETS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
const L = TINY.layers;
/** Spare rows KvCache adds whenever a layer's buffer grows (its default `growth`). */
const GROWTH = 32;

async function withCases(fn: (cases: TinyCase[]) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "e2e_recipes_" });
  const cases = await tinyCases(root);
  try {
    for (const c of cases) failOnNonFiniteLogits(c.model);
    await fn(cases);
  } finally {
    for (const c of cases) await c.model.close();
    await Deno.remove(root, { recursive: true });
  }
}

/** 20 tokens, end-of-sequence ignored so every run decodes the same number of steps. */
function run(c: TinyCase, policy: ObservedPolicy) {
  return generate(c.model, c.prompt, { maxNewTokens: TOKENS, policy, stopAtEos: false });
}

Deno.test("e2e: every recipe at budget 100% generates exactly what the full cache does", () =>
  withCases(async (cases) => {
    for (const c of cases) {
      const full = await run(c, new ObservedPolicy(createRecipe("full").policy({ fraction: 1 })));
      assertEquals(full.ids.length, TOKENS);
      const N = c.prompt.length;
      assertEquals(full.cacheLengths, new Array(L).fill(N + TOKENS - 1));
      for (const name of recipeNames()) {
        const pair = fullBudgetPair(name);
        const a = await run(c, new ObservedPolicy(pair.recipe));
        const b = await run(c, new ObservedPolicy(pair.full));
        assertEquals(a.ids, b.ids, `${c.name} ${name}`);
        assertEquals(a.ids, full.ids, `${c.name} ${name}`);
        assertEquals(a.cacheLengths, full.cacheLengths, `${c.name} ${name}`);
        // Also through the CLI's path (flags → policy).
        const viaArgs = await run(
          c,
          new ObservedPolicy(policyFromArgs({ method: name, budget: 1 })),
        );
        assertEquals(viaArgs.ids, full.ids, `${c.name} ${name} via policyFromArgs`);
      }
    }
  }));

Deno.test("e2e: every compressing recipe holds its budget after prefill and through decoding", () =>
  withCases(async (cases) => {
    for (const c of cases) {
      const N = c.prompt.length;
      const { numKvHeads, headDim } = c.model.spec.text;
      const bytesPerEntry = 2 * numKvHeads * headDim * 4 + 4; // keys, values, position
      for (const def of listRecipes().filter((d) => d.compresses)) {
        for (const fraction of BUDGETS) {
          const where = `${c.name} ${def.name} @${fraction}`;
          const policy = createRecipe(def.name).policy({ fraction }) as ComposedPolicy;
          const observed = new ObservedPolicy(policy);
          const result = await run(c, observed);
          assertEquals(result.ids.length, TOKENS, where);
          const after = observed.afterPrefillSnapshot!;
          const kept = Array.from(policy.decision!.kept);
          assertEquals(after.lengths, kept, where);
          // After prefill: the total is the budget within one entry per layer…
          const target = fraction * N * L;
          assert(Math.abs(after.entriesHeld - target) <= L, `${where}: ${after.entriesHeld}`);
          // …and the buffers hold exactly their entries (the prefill fills each layer to
          // size, and compressed layers are rebuilt at their kept size).
          assertEquals(after.bytesHeld, after.entriesHeld * bytesPerEntry, where);
          // Decoding: 19 steps fed (the first token comes from prefill), each layer at
          // ⌈T·K_l/N⌉ for T tokens seen.
          const tokensSeen = N + TOKENS - 1;
          assertEquals(
            result.cacheLengths,
            kept.map((k) => allowedLength(k, N, tokensSeen)),
            where,
          );
          const entries = result.cacheLengths.reduce((s, x) => s + x, 0);
          // Buffers grow in blocks of `growth` rows, so the bytes at the end are the entries'
          // bytes plus at most one block per layer.
          assert(
            result.bytesHeld >= entries * bytesPerEntry &&
              result.bytesHeld <= (entries + L * GROWTH) * bytesPerEntry,
            `${where}: ${result.bytesHeld} bytes for ${entries} entries`,
          );
        }
      }
    }
  }));

Deno.test("e2e: online PrefixKV keeps what the prefix search on the prefill importance says", () =>
  withCases(async (cases) => {
    for (const c of cases) {
      for (const fraction of [0.2, 0.5, 0.8]) {
        const policy = policyFromArgs({ method: "prefixkv", budget: fraction, online: true });
        const observed = new ObservedPolicy(policy);
        await run(c, observed);
        const snap = observed.afterPrefillSnapshot!;
        const found = prefixSearch(snap.importance!, { budget: fraction });
        assertEquals(snap.lengths, found.keep, `${c.name} @${fraction}`);
        const report = retentionReport("prefixkv", policy, snap);
        assertEquals(report.prefixkv?.mode, "online");
        assertEquals(report.prefixkv?.kept, found.keep);
        assertEquals(report.prefixkv?.p, found.p);
        assert(found.p > 0 && found.p <= 1);
        if (c.name === "llava") assertEquals(snap.imageSpan?.end! - snap.imageSpan?.start!, 16);
      }
    }
  }));
