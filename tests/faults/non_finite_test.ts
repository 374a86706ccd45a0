/**
 * Non-finite values stop a run with an error saying where they appeared (lib/runtime/finite.ts):
 * NaN in one layer's key weights names that layer's keys at prefill; Inf in a token's embedding
 * names the prompt embeddings; NaN in the LM head names the logits; a NaN fed at a decode step
 * names that step's position; attention importance (what calibration and analysis read) is
 * checked the same way. Through the CLI, a NaN checkpoint ends with exit 1 and that one line,
 * not exit 0 and `<pad>` tokens.
 */
import { assertEquals, assertMatch, assertRejects } from "@std/assert";
import { join } from "node:path";
import { NumericError } from "../../lib/errors.ts";
import { loadModel } from "../../lib/runtime/model.ts";
import { makeTinyLlama, writeTinyLlama } from "../fixtures/tiny_checkpoint.ts";
import { cli, cliArgs, withTempDir } from "../cli/_cli.ts";

const LAYERS = 3;

/** A tiny in-memory LLaMA with `poison` applied to its weights. */
async function poisoned(poison?: (get: (name: string) => Float32Array) => void) {
  const ck = makeTinyLlama({ layers: LAYERS, seed: 2 });
  poison?.((name) => ck.store.getF32(name));
  return await loadModel({ spec: ck.spec, tensors: ck.store }, { cacheDir: false });
}

Deno.test("faults: NaN/Inf in weights or inputs stop the run, naming layer and step", async () => {
  const cases: {
    name: string;
    poison: (get: (n: string) => Float32Array) => void;
    says: RegExp;
  }[] = [
    {
      name: "layer 1 key weights",
      poison: (get) => (get("model.layers.1.self_attn.k_proj.weight")[3] = NaN),
      says:
        /^NaN in layer 1's keys \(value \d+\) at prefill \(positions 0–3\): the weights of layer 1/,
    },
    {
      name: "embedding of token 7",
      poison: (get) => {
        const e = get("model.embed_tokens.weight");
        e[7 * (e.length / makeTinyLlama({ layers: LAYERS, seed: 2 }).spec.text.vocabSize)] =
          Infinity;
      },
      says: /^Infinity in the prompt embeddings \(value \d+\) at prefill .*embed_tokens/,
    },
    {
      name: "LM head",
      poison: (get) => get("lm_head.weight").fill(NaN),
      says: /^NaN in the logits \(value 0\) at prefill .*LM head/,
    },
  ];
  for (const c of cases) {
    const model = await poisoned(c.poison);
    try {
      const e = await assertRejects(
        () => model.prefill(model.embedTokens([1, 7, 9, 4])),
        NumericError,
      );
      assertMatch(e.message, c.says, c.name);
    } finally {
      await model.close();
    }
  }

  // A sound model: a NaN fed at a decode step names that step; importance is checked too.
  const model = await poisoned();
  try {
    const { cache } = await model.prefill(model.embedTokens([1, 7, 9, 4]), {
      attention: "importance",
    });
    const row = model.embedTokens([5]);
    row[0] = NaN;
    const e = await assertRejects(() => model.step(row, cache, 4), NumericError);
    assertMatch(
      e.message,
      /^NaN in the prompt embeddings \(value 0\) at the decode step at position 4/,
    );
  } finally {
    await model.close();
  }
  const hot = await poisoned((get) => (get("model.layers.2.self_attn.q_proj.weight")[0] = NaN));
  try {
    const e = await assertRejects(
      () => hot.prefill(hot.embedTokens([1, 7, 9]), { attention: "importance" }),
      Error,
    );
    assertMatch(e.message, /^NaN in layer 2's attention importance .* at prefill/);
  } finally {
    await hot.close();
  }
});

Deno.test("faults: a checkpoint with NaN weights fails generate with one line, exit 1", () =>
  withTempDir("faults_nan_cli_", async (dir) => {
    const ck = await writeTinyLlama(join(dir, "nan"), { layers: LAYERS, seed: 2 });
    // Overwrite one float32 of layer 0's value projection in model.safetensors with NaN.
    const file = join(ck.dir, "model.safetensors");
    const bytes = await Deno.readFile(file);
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
    const [start] = header["model.layers.0.self_attn.v_proj.weight"].data_offsets;
    new DataView(bytes.buffer).setFloat32(8 + headerLength + start, NaN, true);
    await Deno.writeFile(file, bytes);
    const r = await cli(
      cliArgs("generate", {
        model: ck.dir,
        "input-ids": "1,7,9",
        "cache-dir": join(dir, "g"),
      }),
      dir,
    );
    assertEquals(r.code, 1, r.stdout);
    assertEquals(r.stdout, "");
    assertMatch(
      r.stderr,
      /^prefixkv generate: NaN in layer 0's values \(value \d+\) at prefill \(positions 0–2\)/,
    );
    assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
  }));
