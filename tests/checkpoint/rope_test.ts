/**
 * RoPE settings: every way a config can spell them (transformers 4's `rope_theta` /
 * `rope_scaling`, transformers 5's `rope_parameters`), the inverse frequencies of each supported
 * type against transformers 5.18's own `LlamaRotaryEmbedding.inv_freq`, the float64 formula of
 * the plain-loop reference, and the errors for what is not supported.
 */
import { assertEquals, assertInstanceOf, assertLess, assertThrows } from "@std/assert";
import {
  checkContextLength,
  type ParsedRope,
  parseRope,
  type RopeConfigFields,
  ropeInverseFrequencies,
} from "../../lib/checkpoint/rope.ts";
import type { RopeScaling } from "../../lib/checkpoint/spec.ts";
import { CheckpointError, InputError } from "../../lib/errors.ts";
import { llama3Divisors } from "../reference/llama_reference.ts";

const LLAMA3 = {
  rope_type: "llama3",
  rope_theta: 500000,
  factor: 8,
  low_freq_factor: 1,
  high_freq_factor: 4,
  original_max_position_embeddings: 64,
};
const LLAMA3_SPEC: RopeScaling = {
  type: "llama3",
  factor: 8,
  lowFreqFactor: 1,
  highFreqFactor: 4,
  originalMaxPositionEmbeddings: 64,
};

/**
 * `LlamaRotaryEmbedding(LlamaConfig(hidden_size=64, num_attention_heads=4, head_dim=16,
 * rope_parameters=…)).inv_freq` printed by transformers 5.18 / torch 2.13 (CPU).
 */
const HF_INV_FREQ: Record<string, { params: Record<string, unknown>; inv: number[] }> = {
  default: {
    params: { rope_type: "default", rope_theta: 10000 },
    inv: [
      1.0,
      0.3162277638912201,
      0.10000000149011612,
      0.03162277862429619,
      0.009999999776482582,
      0.003162277862429619,
      0.0010000000474974513,
      0.0003162277862429619,
    ],
  },
  linear: {
    params: { rope_type: "linear", rope_theta: 10000, factor: 2.5 },
    inv: [
      0.4000000059604645,
      0.12649109959602356,
      0.03999999910593033,
      0.012649111449718475,
      0.003999999724328518,
      0.0012649111449718475,
      0.0004000000189989805,
      0.0001264911115868017,
    ],
  },
  llama3: {
    params: LLAMA3,
    inv: [
      1.0,
      0.07940301299095154,
      0.004700753837823868,
      0.0009115831344388425,
      0.00017677668074611574,
      3.428102354519069e-05,
      6.647869668086059e-06,
      1.289173155782919e-06,
    ],
  },
};

function rejects(fn: () => unknown, ...parts: string[]): void {
  const e = assertThrows(fn);
  assertInstanceOf(e, CheckpointError);
  for (const p of parts) {
    assertEquals(e.message.includes(p), true, `"${e.message}" lacks "${p}"`);
  }
}

const parse = (c: RopeConfigFields, field = "text_config") => parseRope("config.json", field, c);

Deno.test("parseRope: transformers 4 and 5 spellings give the same settings", () => {
  assertEquals(parse({}), { ropeTheta: 10000, ropeScaling: null });
  assertEquals(parse({ rope_theta: 500000, rope_scaling: null }), {
    ropeTheta: 500000,
    ropeScaling: null,
  });
  assertEquals(parse({ rope_parameters: { rope_type: "default", rope_theta: 1e6 } }), {
    ropeTheta: 1e6,
    ropeScaling: null,
  });
  const linear: ParsedRope = { ropeTheta: 10000, ropeScaling: { type: "linear", factor: 2 } };
  assertEquals(parse({ rope_scaling: { type: "linear", factor: 2 } }), linear);
  assertEquals(parse({ rope_scaling: { rope_type: "linear", factor: 2 } }), linear);
  assertEquals(
    parse({ rope_parameters: { rope_type: "linear", factor: 2, rope_theta: 1e4 } }),
    linear,
  );
  const llama3 = { ropeTheta: 500000, ropeScaling: LLAMA3_SPEC };
  assertEquals(parse({ rope_parameters: LLAMA3 }), llama3);
  const { rope_theta: _t, ...old } = LLAMA3;
  assertEquals(parse({ rope_theta: 500000, rope_scaling: old }), llama3);
  // Both spellings present and in agreement (a config saved by 4.x and re-saved by 5.x).
  assertEquals(parse({ rope_theta: 500000, rope_scaling: old, rope_parameters: LLAMA3 }), llama3);
  // llama3 without the original length: transformers takes max_position_embeddings.
  const { original_max_position_embeddings: _o, ...noOriginal } = LLAMA3;
  assertEquals(
    parse({ rope_parameters: noOriginal, max_position_embeddings: 64 }).ropeScaling,
    LLAMA3_SPEC,
  );
});

Deno.test("parseRope: what the runtime cannot compute is an error naming key, value, support", () => {
  rejects(
    () => parse({ rope_parameters: { rope_type: "yarn", factor: 4 } }),
    "config.json",
    "text_config.rope_parameters.rope_type",
    '"yarn"',
    '"default", "linear", "llama3"',
  );
  rejects(
    () => parse({ rope_scaling: { type: "dynamic", factor: 2 } }, ""),
    "rope_scaling.rope_type",
    '"dynamic"',
  );
  rejects(
    () => parse({ rope_parameters: { rope_type: "linear" } }),
    "text_config.rope_parameters.factor",
    "undefined",
  );
  rejects(
    () => parse({ rope_parameters: { rope_type: "default", factor: 2 } }),
    "text_config.rope_parameters",
    "factor = 2",
    '"default"',
  );
  rejects(
    () => parse({ rope_parameters: { ...LLAMA3, attention_factor: 0.5 } }),
    "attention_factor = 0.5",
  );
  rejects(
    () => parse({ rope_parameters: { rope_type: "default", partial_rotary_factor: 0.5 } }),
    "partial_rotary_factor = 0.5",
  );
  rejects(
    () => parse({ rope_theta: 10000, rope_parameters: { rope_type: "default", rope_theta: 5e5 } }),
    "text_config.rope_theta = 10000",
    "rope_parameters.rope_theta = 500000",
  );
  rejects(
    () =>
      parse({
        rope_scaling: { rope_type: "linear", factor: 2 },
        rope_parameters: { rope_type: "linear", factor: 4 },
      }),
    "disagree",
  );
  rejects(
    () => parse({ rope_parameters: { ...LLAMA3, high_freq_factor: 1 } }),
    "high_freq_factor = 1",
    "low_freq_factor = 1",
  );
  rejects(() => parse({ rope_parameters: [1] as unknown as Record<string, unknown> }), "object");
});

Deno.test("ropeInverseFrequencies equals transformers' inv_freq bit for bit", () => {
  for (const [name, { params, inv }] of Object.entries(HF_INV_FREQ)) {
    const rope = parse({ rope_parameters: params, max_position_embeddings: 512 });
    const ours = ropeInverseFrequencies({ headDim: 16, ...rope });
    assertEquals([...ours], inv, name);
  }
});

Deno.test("llama3 frequencies: float32 steps agree with the float64 formula of the reference", () => {
  // Wide head so all three bands (kept, interpolated, divided) are populated.
  const spec = { headDim: 128, ropeTheta: 500000, ropeScaling: LLAMA3_SPEC };
  const ours = ropeInverseFrequencies(spec);
  const divisors = llama3Divisors({ ...spec } as Parameters<typeof llama3Divisors>[0]);
  const bands = new Set<string>();
  for (let i = 0; i < 64; i++) {
    const exact = 500000 ** (-(2 * i) / 128) / divisors[i];
    assertLess(Math.abs(ours[i] - exact) / exact, 2e-7 * 4, `frequency ${i}`);
    bands.add(divisors[i] === 1 ? "kept" : divisors[i] === 8 ? "divided" : "interpolated");
  }
  assertEquals(bands.size, 3);
});

Deno.test("checkContextLength: positions past max_position_embeddings are refused", () => {
  checkContextLength({ maxPositionEmbeddings: 8 }, 8);
  const e = assertThrows(() => checkContextLength({ maxPositionEmbeddings: 8 }, 9));
  assertInstanceOf(e, InputError);
  assertEquals(e.message.includes("max_position_embeddings = 8"), true);
  assertEquals(e.message.includes("up to 8"), true);
});
