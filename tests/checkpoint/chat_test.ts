import { assertEquals, assertThrows } from "@std/assert";
import { CheckpointError } from "../../lib/errors.ts";
import { defaultChatFormat, formatPrompt, renderChatTemplate } from "../../lib/checkpoint/chat.ts";
import type { ModelSpec } from "../../lib/checkpoint/spec.ts";

Deno.test("llava_v1: the exact LLaVA-1.5 prompt, with and without an image", () => {
  // conv_llava_v1.get_prompt() for [USER: "<image>\nWhat is shown?", ASSISTANT: None]:
  // system + sep(" ") + "USER: " + msg + sep(" ") + "ASSISTANT:".
  const expected = "A chat between a curious human and an artificial intelligence assistant. " +
    "The assistant gives helpful, detailed, and polite answers to the human's questions. " +
    "USER: <image>\nWhat is shown? ASSISTANT:";
  assertEquals(formatPrompt({ kind: "llava_v1" }, "What is shown?", { image: true }), expected);
  assertEquals(
    formatPrompt({ kind: "llava_v1" }, "Hi", { image: false }),
    expected.replace("USER: <image>\nWhat is shown?", "USER: Hi"),
  );
});

Deno.test("plain format", () => {
  assertEquals(formatPrompt({ kind: "plain" }, "q", { image: false }), "q");
  assertEquals(formatPrompt({ kind: "plain" }, "q", { image: true }), "<image>\nq");
});

Deno.test("chat template with string content and bos/eos variables", () => {
  const template = "{{ bos_token }}{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}" +
    "{{ eos_token }}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}";
  const fmt = { kind: "template" as const, template, bosToken: "<s>", eosToken: "</s>" };
  assertEquals(formatPrompt(fmt, "hi", { image: false }), "<s>[user] hi</s>[assistant]");
  assertEquals(formatPrompt(fmt, "hi", { image: true }), "<s>[user] <image>\nhi</s>[assistant]");
});

Deno.test("chat template over typed content parts (llava-hf style)", () => {
  const template = "{% for message in messages %}{{ message['role'].upper() + ': ' }}" +
    "{% for c in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}" +
    "{% endfor %}{% for c in message['content'] | selectattr('type', 'equalto', 'text') %}" +
    "{{ c['text'] + ' ' }}{% endfor %}{% endfor %}" +
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}";
  const fmt = { kind: "template" as const, template };
  assertEquals(
    formatPrompt(fmt, "What is this?", { image: true }),
    "USER: <image>\nWhat is this? ASSISTANT:",
  );
  assertEquals(formatPrompt(fmt, "Hi", { image: false }), "USER: Hi ASSISTANT:");
});

Deno.test("a template that drops the image, or cannot render, is a CheckpointError", () => {
  const drop = { kind: "template" as const, template: "{{ messages[0]['role'] }}" };
  assertThrows(() => formatPrompt(drop, "q", { image: true }), CheckpointError);
  assertThrows(
    () => renderChatTemplate("{% for %}", [], { source: "x/tokenizer_config.json" }),
    CheckpointError,
    "x/tokenizer_config.json",
  );
});

Deno.test("defaultChatFormat: template first, then llava_v1 for LLaVA, plain for LLaMA", () => {
  const llava = { family: "llava" } as ModelSpec;
  const llama = { family: "llama" } as ModelSpec;
  assertEquals(defaultChatFormat(llava), { kind: "llava_v1" });
  assertEquals(defaultChatFormat(llama), { kind: "plain" });
  assertEquals(defaultChatFormat(llama, "T", { bosToken: "<s>" }), {
    kind: "template",
    template: "T",
    bosToken: "<s>",
  });
});
