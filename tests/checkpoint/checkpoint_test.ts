import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { join } from "node:path";
import { CheckpointError } from "../../lib/errors.ts";
import { loadCheckpoint } from "../../lib/checkpoint/checkpoint.ts";
import { parseModelConfig } from "../../lib/checkpoint/config.ts";
import {
  clipTensors,
  expectedTensors,
  findTensorProblems,
} from "../../lib/checkpoint/expected_tensors.ts";
import { encodeSafetensors } from "../../lib/checkpoint/safetensors_write.ts";
import { MemoryTensorStore } from "../../lib/checkpoint/tensor_store.ts";
import {
  patternTensor,
  TINY_WORDS,
  tinyLlavaHfConfig,
  wordLevelTokenizer,
  writeJson,
  writeWeightsFor,
} from "./fixture_files.ts";

const OLD_HF = ["language_model.model.embed_tokens.weight"];

/** A complete tiny llava-hf directory; `edit` may alter the tensors written. */
function tinyLlavaDir(edit?: Parameters<typeof writeWeightsFor>[2]): string {
  const dir = Deno.makeTempDirSync();
  const config = tinyLlavaHfConfig();
  writeJson(dir, "config.json", config);
  writeJson(dir, "tokenizer.json", wordLevelTokenizer(TINY_WORDS));
  writeJson(dir, "tokenizer_config.json", { bos_token: "<s>", eos_token: "</s>" });
  writeWeightsFor(parseModelConfig(config, dir, OLD_HF), join(dir, "model.safetensors"), edit);
  return dir;
}

/** Asserts a rejected CheckpointError whose message has every part. */
async function rejectsCheckpoint(p: Promise<unknown>, ...parts: string[]) {
  const e = await assertRejects(() => p, CheckpointError);
  for (const part of parts) assertStringIncludes(e.message, part);
}

Deno.test("loadCheckpoint: a tiny llava-hf directory end to end", async () => {
  const dir = tinyLlavaDir();
  const ck = await loadCheckpoint(dir);
  try {
    assertEquals(ck.spec.family, "llava");
    assertEquals(ck.spec.text.numLayers, 2);
    assertEquals(ck.chatFormat, { kind: "llava_v1" });
    // No preprocessor_config.json: CLIP defaults at the tower's resolution.
    assertEquals(
      [
        ck.imageProcessor?.resizeShortestEdge,
        ck.imageProcessor?.cropHeight,
        ck.imageProcessor?.aspectMode,
      ],
      [8, 8, "none"],
    );
    assertEquals(ck.tokenizer.encodePrompt("USER: <image>\nwhat is this?", ck.spec.imageTokenId), [
      1,
      4,
      3,
      9,
      10,
      11,
    ]);
    // Values come back as written, to F16 precision.
    const names = expectedTensors(ck.spec).map((t) => t.name).sort();
    const idx = expectedTensors(ck.spec).findIndex((t) =>
      t.name === "multi_modal_projector.linear_1.bias"
    );
    const got = ck.tensors.getF32("multi_modal_projector.linear_1.bias", [8]);
    const want = patternTensor([8], idx);
    for (let i = 0; i < 8; i++) assert(Math.abs(got[i] - want[i]) < 1e-3);
    assertEquals(ck.tensors.names(), names);
  } finally {
    ck.tensors.close();
  }
});

Deno.test("bad input: missing config.json", async () => {
  const dir = Deno.makeTempDirSync();
  await rejectsCheckpoint(loadCheckpoint(dir), join(dir, "config.json"), "not found");
});

Deno.test("bad input: missing weights file", async () => {
  const dir = tinyLlavaDir();
  Deno.removeSync(join(dir, "model.safetensors"));
  await rejectsCheckpoint(loadCheckpoint(dir), dir, "model.safetensors");
});

Deno.test("bad input: wrong-shape and missing tensors are all listed at once", async () => {
  const dir = tinyLlavaDir((ts) =>
    ts.filter((t) => t.name !== "language_model.model.norm.weight").map((t) =>
      t.name === "language_model.model.layers.1.mlp.up_proj.weight"
        ? { ...t, shape: [8, 12], data: patternTensor([8, 12], 1) }
        : t
    )
  );
  await rejectsCheckpoint(
    loadCheckpoint(dir),
    dir,
    "2 problem(s)",
    "missing language_model.model.norm.weight [8]",
    "language_model.model.layers.1.mlp.up_proj.weight has shape [8,12], expected [12,8]",
  );
  // Without up-front validation the shape error surfaces on read, naming file and tensor.
  const ck = await loadCheckpoint(dir, { validate: false });
  try {
    const name = "language_model.model.layers.1.mlp.up_proj.weight";
    assert(
      (() => {
        try {
          ck.tensors.getF32(name, [12, 8]);
          return false;
        } catch (e) {
          return e instanceof CheckpointError && e.message.includes(name) &&
            e.message.includes("model.safetensors");
        }
      })(),
    );
  } finally {
    ck.tensors.close();
  }
});

Deno.test("bad input: unsupported model_type / activation through loadCheckpoint", async () => {
  const dir = tinyLlavaDir();
  writeJson(dir, "config.json", { ...tinyLlavaHfConfig(), model_type: "qwen2_vl" });
  await rejectsCheckpoint(loadCheckpoint(dir), "config.json", "model_type", "qwen2_vl");
  writeJson(dir, "config.json", { ...tinyLlavaHfConfig(), projector_hidden_act: "silu" });
  await rejectsCheckpoint(loadCheckpoint(dir), "config.json", "projector_hidden_act", "silu");
});

Deno.test("loadCheckpoint: original LLaVA-1.5 layout with a separate CLIP directory", async () => {
  const dir = Deno.makeTempDirSync();
  const clip = join(dir, "clip-tower");
  Deno.mkdirSync(clip);
  const config = {
    model_type: "llava_llama",
    vocab_size: TINY_WORDS.length,
    hidden_size: 8,
    intermediate_size: 12,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    mm_vision_tower: "clip-tower",
    mm_projector_type: "mlp2x_gelu",
    mm_vision_select_layer: -1,
    mm_hidden_size: 4,
    image_aspect_ratio: "pad",
  };
  writeJson(dir, "config.json", config);
  writeJson(clip, "config.json", {
    model_type: "clip_vision_model",
    hidden_size: 4,
    intermediate_size: 6,
    num_hidden_layers: 1,
    num_attention_heads: 1,
    image_size: 8,
    patch_size: 4,
  });
  writeJson(clip, "preprocessor_config.json", { size: 8, crop_size: 8, resample: 3 });
  writeJson(dir, "tokenizer.json", wordLevelTokenizer(TINY_WORDS.filter((w) => w !== "<image>")));
  writeJson(dir, "tokenizer_config.json", { bos_token: "<s>", eos_token: "</s>" });
  const spec = parseModelConfig(config, dir, []);
  const own = expectedTensors(spec).filter((t) => !t.name.startsWith("vision_tower."));
  const tower = clipTensors({ ...spec.vision!, prefix: "vision_model." });
  const write = (path: string, list: typeof own) =>
    Deno.writeFileSync(
      path,
      encodeSafetensors(
        list.map((t, i) => ({ ...t, dtype: "F32", data: patternTensor(t.shape, i) })),
      ),
    );
  write(join(dir, "model.safetensors"), own);
  write(join(clip, "model.safetensors"), tower);

  const ck = await loadCheckpoint(dir);
  try {
    assertEquals(ck.chatFormat, { kind: "llava_v1" });
    assertEquals(ck.spec.imageTokenId, -200);
    assertEquals(ck.imageProcessor?.aspectMode, "pad");
    assertEquals(ck.spec.vision?.prefix, "vision_tower.vision_model.");
    assertEquals(
      [...ck.tensors.getF32("vision_tower.vision_model.pre_layrnorm.bias", [4])],
      [...patternTensor([4], tower.findIndex((t) => t.name === "vision_model.pre_layrnorm.bias"))],
    );
    assert(ck.tensors.info("model.mm_projector.2.weight"));
  } finally {
    ck.tensors.close();
  }
  // The CLIP tower without safetensors weights: the error says to convert.
  Deno.removeSync(join(clip, "model.safetensors"));
  Deno.writeFileSync(join(clip, "pytorch_model.bin"), new Uint8Array(8));
  await rejectsCheckpoint(loadCheckpoint(dir), clip, "convert");
});

Deno.test("findTensorProblems reports dtype problems too", () => {
  const spec = parseModelConfig(
    {
      model_type: "llama",
      hidden_size: 4,
      intermediate_size: 4,
      num_hidden_layers: 1,
      num_attention_heads: 1,
      vocab_size: 3,
    },
    "/m",
    [],
  );
  const store = new MemoryTensorStore();
  for (const t of expectedTensors(spec)) {
    store.set(
      t.name,
      t.shape,
      new Float32Array(t.shape.reduce((a, b) => a * b, 1)),
    );
  }
  assertEquals(findTensorProblems(spec, store), []);
  const fake = {
    ...store,
    names: () => store.names(),
    getF32: store.getF32.bind(store),
    close: () => {},
    info: (n: string) => {
      const i = store.info(n);
      return i && n === "model.norm.weight" ? { ...i, dtype: "I64" as const } : i;
    },
  };
  assertEquals(findTensorProblems(spec, fake), [
    "model.norm.weight has dtype I64, expected a float type",
  ]);
});
