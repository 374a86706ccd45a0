/**
 * The shared test matrix: every registered recipe runs through the same checks, so a new recipe
 * gets them all by registering. Per-recipe hand-computed cases live in `<recipe>_test.ts`.
 */
import { assert, assertEquals } from "@std/assert";
import {
  allowedLength,
  type ComposedPolicy,
  createRecipe,
  listRecipes,
} from "../../lib/recipes/mod.ts";
import { fullBudgetPair, simulate, type SyntheticShape } from "./harness.ts";

const SHAPE: SyntheticShape = { numLayers: 6, promptLength: 64, seed: 3 };
const STEPS = 20;
const BUDGETS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
const FLOATS_PER_ENTRY = 2 * 2; // keys + values, 1 head × dim 2
const BYTES_PER_ENTRY = FLOATS_PER_ENTRY * 4 + 4; // + Int32 position

for (const def of listRecipes()) {
  const name = def.name;
  const L = SHAPE.numLayers;
  const N = SHAPE.promptLength;

  Deno.test(`matrix ${name}: has a description and a reference`, () => {
    assert(def.summary.length > 10 && def.description.length > 80 && def.reference.length > 5);
  });

  Deno.test(`matrix ${name}: budget 100% keeps exactly what full keeps`, () => {
    const { recipe, full } = fullBudgetPair(name);
    const a = simulate(recipe, SHAPE, STEPS);
    const b = simulate(full, SHAPE, STEPS);
    assertEquals(a.afterPrefill, b.afterPrefill);
    assertEquals(a.final, b.final);
    assertEquals(a.totals.at(-1), L * (N + STEPS));
  });

  Deno.test(`matrix ${name}: deterministic and free of NaN`, () => {
    for (const fraction of [0.2, 0.6]) {
      const a = simulate(createRecipe(name).policy({ fraction }), SHAPE, STEPS);
      const b = simulate(createRecipe(name).policy({ fraction }), SHAPE, STEPS);
      assertEquals(a.afterPrefill, b.afterPrefill);
      assertEquals(a.final, b.final);
      for (const rows of [...a.final.keys, ...a.final.values]) {
        assert(rows.every(Number.isFinite), "non-finite value in the cache");
      }
    }
  });

  if (!def.compresses) continue;

  for (const fraction of BUDGETS) {
    Deno.test(`matrix ${name}: budget ${fraction * 100}% after prefill and 20 steps`, () => {
      const recipe = createRecipe(name);
      const policy = recipe.policy({ fraction }) as ComposedPolicy;
      const sim = simulate(policy, SHAPE, STEPS);
      const kept = policy.decision!.kept;
      assertEquals(Array.from(kept), sim.lengthsAfterPrefill);

      // Prefill: the total is the budget within one entry per layer.
      const target = fraction * N * L;
      assert(
        Math.abs(sim.totals[0] - target) <= L,
        `after prefill ${sim.totals[0]} entries, target ${target}`,
      );

      // Protected positions survive the prefill; sorted, distinct positions everywhere.
      sim.afterPrefill.positions.forEach((pos, l) => {
        const held = new Set(pos);
        for (const p of recipe.selection.protectedPositions(N, kept[l])) {
          assert(held.has(p), `layer ${l} lost protected position ${p}`);
        }
        assert(pos.every((p, i) => i === 0 || p > pos[i - 1]), `layer ${l} unsorted`);
      });

      // Decoding: each layer holds its share K_l/N of the tokens seen (⌈T·K_l/N⌉), so the
      // total stays at the budget fraction of tokens seen.
      const tokensSeen = N + STEPS;
      sim.final.positions.forEach((pos, l) => {
        assertEquals(
          pos.length,
          allowedLength(kept[l], N, tokensSeen),
          `layer ${l} after ${STEPS} steps`,
        );
        assert(pos.includes(tokensSeen - 1), `layer ${l} lost the newest token`);
      });
      // A sink protected at prefill is never evicted while decoding.
      sim.final.positions.forEach((pos, l) => {
        if (recipe.selection.protectedPositions(N, kept[l]).includes(0)) {
          assert(pos.includes(0), `layer ${l} evicted the sink while decoding`);
        }
      });
      const total = sim.totals.at(-1)!;
      const keptTotal = kept.reduce((s, k) => s + k, 0);
      const slack = L + Math.abs(keptTotal - target) * tokensSeen / N;
      assert(
        Math.abs(total - fraction * tokensSeen * L) <= slack,
        `after decoding ${total} entries, target ${fraction * tokensSeen * L}`,
      );
      // Memory: after prefill the buffers hold exactly the kept entries; while decoding at
      // most one spare row per layer (an evicted slot awaiting the next append).
      const bytes = sim.cache.bytesHeld();
      assert(bytes >= total * BYTES_PER_ENTRY && bytes <= (total + L) * BYTES_PER_ENTRY);
    });
  }

  Deno.test(`matrix ${name}: bytes held are proportional to entries kept after prefill`, () => {
    for (const fraction of [0.1, 0.5]) {
      const sim = simulate(createRecipe(name).policy({ fraction }), SHAPE, 0);
      assertEquals(sim.cache.bytesHeld(), sim.totals[0] * BYTES_PER_ENTRY);
    }
  });

  Deno.test(`matrix ${name}: a token budget means that many entries per layer`, () => {
    const tokens = 16; // = 25% of 64
    const policy = createRecipe(name).policy({ tokens }) as ComposedPolicy;
    const sim = simulate(policy, SHAPE, 0);
    assert(Math.abs(policy.decision!.fraction - tokens / N) < 1e-12);
    assert(Math.abs(sim.totals[0] - tokens * L) <= L);
    const byFraction = simulate(createRecipe(name).policy({ fraction: 0.25 }), SHAPE, 0);
    assertEquals(sim.afterPrefill, byFraction.afterPrefill);
  });
}
