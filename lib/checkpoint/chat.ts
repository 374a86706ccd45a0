/**
 * Prompt formatting: LLaVA-1.5's `llava_v1` conversation, a Jinja chat template from the
 * checkpoint, or the bare question. The image, when present, is the text `<image>` placeholder;
 * the tokenizer turns it into the model's image token id.
 *
 * @module
 */

import { renderBounded } from "./bounded_template.ts";
import { CheckpointError } from "../errors.ts";
import type { ModelSpec } from "./spec.ts";
import { IMAGE_PLACEHOLDER } from "./tokenizer.ts";

/** How a question becomes prompt text. */
export type ChatFormat =
  /** LLaVA-1.5's `conv_llava_v1` (`SeparatorStyle.TWO`, sep `" "`, sep2 `"</s>"`). */
  | { kind: "llava_v1" }
  /** A Jinja chat template (`tokenizer_config.json` `chat_template` or `chat_template.json`). */
  | { kind: "template"; template: string; bosToken?: string; eosToken?: string }
  /** The question itself (text-only models without a template). */
  | { kind: "plain" };

/** The system prompt of LLaVA-1.5's `conv_llava_v1`. */
export const LLAVA_V1_SYSTEM: string =
  "A chat between a curious human and an artificial intelligence " +
  "assistant. The assistant gives helpful, detailed, and polite answers to the human's questions.";

/** A chat message as chat templates expect it. */
export interface ChatMessage {
  /** Speaker, e.g. `"user"` or `"assistant"`. */
  role: string;
  /** Plain text, or parts where `{ type: "image" }` marks the image. */
  content: string | Array<{ type: "image" } | { type: "text"; text: string }>;
}

/**
 * The `llava_v1` single-turn prompt: `SYSTEM USER: <image>\n{question} ASSISTANT:` — what
 * `conv.get_prompt()` gives after appending the user's message and an empty assistant turn.
 */
export function formatLlavaV1(question: string, opts: { image: boolean }): string {
  const user = opts.image ? `${IMAGE_PLACEHOLDER}\n${question}` : question;
  return `${LLAVA_V1_SYSTEM} USER: ${user} ASSISTANT:`;
}

/**
 * Renders a chat template with `messages`, `add_generation_prompt: true` and the BOS/EOS token
 * texts. Errors name the template's source.
 */
export function renderChatTemplate(
  template: string,
  messages: ChatMessage[],
  vars: { bosToken?: string; eosToken?: string; source?: string } = {},
): string {
  try {
    return renderBounded(template, {
      messages,
      add_generation_prompt: true,
      bos_token: vars.bosToken ?? "",
      eos_token: vars.eosToken ?? "",
    });
  } catch (err) {
    throw new CheckpointError(
      `${vars.source ?? "chat template"}: cannot render the chat template: ` +
        (err as Error).message,
    );
  }
}

/** Templates that iterate over typed content parts (llava-hf's) get structured messages. */
function usesContentParts(template: string): boolean {
  return /['"]type['"]|\.type\b/.test(template);
}

/** Turns a question (and whether an image comes with it) into prompt text in `format`. */
export function formatPrompt(
  format: ChatFormat,
  question: string,
  opts: { image: boolean },
): string {
  switch (format.kind) {
    case "llava_v1":
      return formatLlavaV1(question, opts);
    case "plain":
      return opts.image ? `${IMAGE_PLACEHOLDER}\n${question}` : question;
    case "template": {
      const content: ChatMessage["content"] = usesContentParts(format.template)
        ? [...(opts.image ? [{ type: "image" as const }] : []), { type: "text", text: question }]
        : opts.image
        ? `${IMAGE_PLACEHOLDER}\n${question}`
        : question;
      const text = renderChatTemplate(format.template, [{ role: "user", content }], format);
      if (opts.image && !text.includes(IMAGE_PLACEHOLDER)) {
        throw new CheckpointError(
          `the chat template dropped the ${IMAGE_PLACEHOLDER} placeholder; ` +
            `use the llava_v1 format for this checkpoint`,
        );
      }
      return text;
    }
  }
}

/**
 * The default format for a checkpoint: its chat template when it has one, else `llava_v1` for
 * LLaVA models and `plain` for text-only ones.
 */
export function defaultChatFormat(
  spec: ModelSpec,
  template?: string,
  tokens: { bosToken?: string; eosToken?: string } = {},
): ChatFormat {
  if (template) return { kind: "template", template, ...tokens };
  return spec.family === "llava" ? { kind: "llava_v1" } : { kind: "plain" };
}
