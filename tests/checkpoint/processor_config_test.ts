/**
 * `processor_config.json` and `chat_template.json` / `.jinja`: the bundled checkpoint ships them
 * as llava-hf checkpoints do (so HF's `AutoProcessor` loads it; the HF golden files hold the ids
 * that processor made), the loader checks them against `config.json` and the tokenizer, and the
 * processor's chat template wins over the tokenizer's, as in transformers.
 */
import { join } from "node:path";
import { assertEquals, assertInstanceOf, assertStringIncludes, assertThrows } from "@std/assert";
import { BUNDLED_MODEL_DIR } from "../../lib/bundled.ts";
import { loadCheckpointSync } from "../../lib/checkpoint/checkpoint.ts";
import { formatPrompt } from "../../lib/checkpoint/chat.ts";
import { CheckpointError } from "../../lib/errors.ts";
import { writeTinyLlava } from "../fixtures/tiny_checkpoint.ts";

const readJson = (path: string) => JSON.parse(Deno.readTextFileSync(path));

Deno.test("bundled checkpoint ships LlavaProcessor's files, consistent with config.json", () => {
  const proc = readJson(join(BUNDLED_MODEL_DIR, "processor_config.json"));
  const config = readJson(join(BUNDLED_MODEL_DIR, "config.json"));
  assertEquals(proc, {
    image_token: "<image>",
    num_additional_image_tokens: 1,
    patch_size: config.vision_config.patch_size,
    processor_class: "LlavaProcessor",
    vision_feature_select_strategy: config.vision_feature_select_strategy,
  });
  const template = readJson(join(BUNDLED_MODEL_DIR, "chat_template.json")).chat_template;
  const tokCfg = readJson(join(BUNDLED_MODEL_DIR, "tokenizer_config.json"));
  assertEquals(template, tokCfg.chat_template);
  const ckpt = loadCheckpointSync(BUNDLED_MODEL_DIR);
  try {
    assertEquals(ckpt.chatFormat.kind === "template" && ckpt.chatFormat.template, template);
    // (8 × 8 patches) + 1 CLS − 1 for "default": what LlavaProcessor expands <image> into.
    assertEquals(ckpt.spec.imageTokens, (64 / 8) ** 2);
  } finally {
    ckpt.tensors.close();
  }
});

async function withTiny(fn: (dir: string) => void | Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "processor_cfg_" });
  try {
    const ckpt = await writeTinyLlava(join(root, "m"), { layers: 1 });
    await fn(ckpt.dir);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

const GOOD = {
  image_token: "<image>",
  num_additional_image_tokens: 1,
  patch_size: 4,
  processor_class: "LlavaProcessor",
  vision_feature_select_strategy: "default",
};

function refused(dir: string, ...parts: string[]): void {
  const e = assertThrows(() => loadCheckpointSync(dir));
  assertInstanceOf(e, CheckpointError);
  for (const p of parts) assertStringIncludes(e.message, p);
}

Deno.test("processor_config.json must agree with config.json and the tokenizer", () =>
  withTiny((dir) => {
    const patch = readJson(join(dir, "config.json")).vision_config.patch_size;
    const write = (over: Record<string, unknown>) =>
      Deno.writeTextFileSync(
        join(dir, "processor_config.json"),
        JSON.stringify({ ...GOOD, patch_size: patch, ...over }),
      );
    write({});
    loadCheckpointSync(dir).tensors.close();
    write({ patch_size: patch * 2 });
    refused(dir, "processor_config.json", `patch_size = ${patch * 2}`, `implies ${patch}`);
    write({ vision_feature_select_strategy: "full" });
    refused(dir, 'vision_feature_select_strategy = "full"', '"default"');
    write({ num_additional_image_tokens: 0 });
    refused(dir, "num_additional_image_tokens = 0", "set it to 1");
    write({ image_token: "<s>" });
    refused(dir, 'image_token = "<s>"', "image_token_index");
    write({ processor_class: "LlavaNextProcessor" });
    refused(dir, "processor_class", '"LlavaProcessor"');
    write({ patch_size: "eight" });
    refused(dir, "processor_config.json", "patch_size");
  }));

Deno.test("chat template: chat_template.jinja, then chat_template.json, then the tokenizer's", () =>
  withTiny((dir) => {
    const question = (d: string) => {
      const c = loadCheckpointSync(d);
      c.tensors.close();
      return formatPrompt(c.chatFormat, "Q", { image: false });
    };
    const tokenizers = question(dir);
    Deno.writeTextFileSync(
      join(dir, "chat_template.json"),
      JSON.stringify({ chat_template: "JSON {{ messages[0]['content'] }}" }),
    );
    assertEquals(question(dir), "JSON Q");
    Deno.writeTextFileSync(join(dir, "chat_template.jinja"), "JINJA {{ messages[0]['content'] }}");
    assertEquals(question(dir), "JINJA Q");
    Deno.removeSync(join(dir, "chat_template.jinja"));
    Deno.writeTextFileSync(join(dir, "chat_template.json"), JSON.stringify({ template: 1 }));
    refused(dir, "chat_template.json", "chat_template must be a string");
    Deno.removeSync(join(dir, "chat_template.json"));
    assertEquals(question(dir), tokenizers);
  }));

Deno.test("image processor: transformers 5's processor_config.json image_processor is read", () =>
  withTiny((dir) => {
    const patch = readJson(join(dir, "config.json")).vision_config.patch_size;
    const pre = readJson(join(dir, "preprocessor_config.json"));
    Deno.removeSync(join(dir, "preprocessor_config.json"));
    const nested = { ...pre, size: { shortest_edge: 40 } };
    Deno.writeTextFileSync(
      join(dir, "processor_config.json"),
      JSON.stringify({ ...GOOD, patch_size: patch, image_processor: nested }),
    );
    const c = loadCheckpointSync(dir);
    c.tensors.close();
    assertEquals(c.imageProcessor?.resizeShortestEdge, 40);
    // Both files present and disagreeing: refused.
    Deno.writeTextFileSync(join(dir, "preprocessor_config.json"), JSON.stringify(pre));
    refused(dir, "preprocessor_config.json", "image_processor", "different preprocessing");
    // Agreeing: fine.
    Deno.writeTextFileSync(join(dir, "preprocessor_config.json"), JSON.stringify(nested));
    loadCheckpointSync(dir).tensors.close();
  }));
