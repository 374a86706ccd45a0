/**
 * Checks the bundled tiny LLaVA export (experiments/tiny-llava/checkpoint) on its own terms:
 * shape floor, llava-hf tensor names and shapes, size limit, and that the JavaScript tokenizer
 * and chat template reproduce the token ids the PyTorch golden files were computed from.
 */
import { assert, assertEquals } from "@std/assert";
import { fileURLToPath } from "node:url";
import { Tokenizer } from "@huggingface/tokenizers";
import { Template } from "@huggingface/jinja";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CKPT = `${ROOT}experiments/tiny-llava/checkpoint/`;
const GOLDEN = `${ROOT}tests/fixtures/tiny_llava_golden/`;
const readJson = (p: string) => JSON.parse(Deno.readTextFileSync(p));

function safetensorsHeader(path: string): Record<string, { dtype: string; shape: number[] }> {
  const bytes = Deno.readFileSync(path);
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  delete header.__metadata__;
  return header;
}

Deno.test("config meets the shape floor", () => {
  const c = readJson(`${CKPT}config.json`);
  const t = c.text_config, v = c.vision_config;
  assertEquals([c.model_type, t.model_type, v.model_type], ["llava", "llama", "clip_vision_model"]);
  assert(t.num_hidden_layers >= 8);
  assert(t.num_key_value_heads < t.num_attention_heads, "GQA");
  assertEquals((v.image_size / v.patch_size) ** 2, c.image_seq_length);
  assert(c.image_seq_length >= 64);
  assertEquals([c.vision_feature_layer, c.vision_feature_select_strategy], [-2, "default"]);
});

Deno.test("safetensors holds exactly the llava-hf tensors with config-consistent shapes", () => {
  const path = `${CKPT}model.safetensors`;
  assert(Deno.statSync(path).size <= 16 * 1024 * 1024, "checkpoint must stay under 16 MB");
  const c = readJson(`${CKPT}config.json`);
  const t = c.text_config, v = c.vision_config;
  const h = safetensorsHeader(path);
  const D = t.hidden_size, hd = t.head_dim, Dv = v.hidden_size;
  const want: Record<string, number[]> = {
    "language_model.model.embed_tokens.weight": [t.vocab_size, D],
    "language_model.model.norm.weight": [D],
    "language_model.lm_head.weight": [t.vocab_size, D],
    "vision_tower.vision_model.embeddings.class_embedding": [Dv],
    "vision_tower.vision_model.embeddings.patch_embedding.weight": [
      Dv,
      3,
      v.patch_size,
      v.patch_size,
    ],
    "vision_tower.vision_model.embeddings.position_embedding.weight": [c.image_seq_length + 1, Dv],
    "vision_tower.vision_model.pre_layrnorm.weight": [Dv],
    "vision_tower.vision_model.pre_layrnorm.bias": [Dv],
    "vision_tower.vision_model.post_layernorm.weight": [Dv],
    "vision_tower.vision_model.post_layernorm.bias": [Dv],
    "multi_modal_projector.linear_1.weight": [D, Dv],
    "multi_modal_projector.linear_1.bias": [D],
    "multi_modal_projector.linear_2.weight": [D, D],
    "multi_modal_projector.linear_2.bias": [D],
  };
  for (let i = 0; i < t.num_hidden_layers; i++) {
    const p = `language_model.model.layers.${i}.`;
    want[`${p}input_layernorm.weight`] = [D];
    want[`${p}post_attention_layernorm.weight`] = [D];
    want[`${p}self_attn.q_proj.weight`] = [t.num_attention_heads * hd, D];
    want[`${p}self_attn.k_proj.weight`] = [t.num_key_value_heads * hd, D];
    want[`${p}self_attn.v_proj.weight`] = [t.num_key_value_heads * hd, D];
    want[`${p}self_attn.o_proj.weight`] = [D, t.num_attention_heads * hd];
    want[`${p}mlp.gate_proj.weight`] = [t.intermediate_size, D];
    want[`${p}mlp.up_proj.weight`] = [t.intermediate_size, D];
    want[`${p}mlp.down_proj.weight`] = [D, t.intermediate_size];
  }
  for (let i = 0; i < v.num_hidden_layers; i++) {
    const p = `vision_tower.vision_model.encoder.layers.${i}.`;
    for (const n of ["q_proj", "k_proj", "v_proj", "out_proj"]) {
      want[`${p}self_attn.${n}.weight`] = [Dv, Dv];
      want[`${p}self_attn.${n}.bias`] = [Dv];
    }
    for (const n of ["layer_norm1", "layer_norm2"]) {
      want[`${p}${n}.weight`] = [Dv];
      want[`${p}${n}.bias`] = [Dv];
    }
    want[`${p}mlp.fc1.weight`] = [v.intermediate_size, Dv];
    want[`${p}mlp.fc1.bias`] = [v.intermediate_size];
    want[`${p}mlp.fc2.weight`] = [Dv, v.intermediate_size];
    want[`${p}mlp.fc2.bias`] = [Dv];
  }
  assertEquals(Object.keys(h).sort(), Object.keys(want).sort());
  for (const [name, info] of Object.entries(h)) {
    assertEquals([name, info.dtype, info.shape], [name, "F32", want[name]]);
  }
});

Deno.test("JS tokenizer and chat template reproduce the golden input ids", () => {
  const tj = readJson(`${CKPT}tokenizer.json`), tc = readJson(`${CKPT}tokenizer_config.json`);
  const tokenizer = new Tokenizer(tj, tc);
  const template = new Template(tc.chat_template);
  const manifest: { file: string }[] = readJson(`${GOLDEN}manifest.json`);
  assertEquals(manifest.length, 3);
  for (const { file } of manifest) {
    const g = readJson(`${GOLDEN}${file}`);
    const question = /USER: (?:<image>\n)?(.*) ASSISTANT:$/s.exec(g.prompt)![1];
    const content = g.image
      ? [{ type: "image" }, { type: "text", text: question }]
      : [{ type: "text", text: question }];
    const rendered = template.render({
      messages: [{ role: "user", content }],
      bos_token: tc.bos_token,
      eos_token: tc.eos_token,
      add_generation_prompt: true,
    });
    assertEquals(rendered, g.prompt);
    assertEquals(tokenizer.encode(rendered).ids, g.input_ids);
    const imageTokens = g.input_ids.filter((id: number) => id === g.image_token_index).length;
    assertEquals(imageTokens, g.image ? 1 : 0);
  }
});
