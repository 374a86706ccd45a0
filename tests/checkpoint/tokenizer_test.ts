import { assertEquals, assertMatch, assertStringIncludes, assertThrows } from "@std/assert";
import { join } from "node:path";
import { CheckpointError } from "../../lib/errors.ts";
import { TextTokenizer } from "../../lib/checkpoint/tokenizer.ts";
import { LLAVA_IMAGE_TOKEN_INDEX } from "../../lib/checkpoint/config.ts";
import { TINY_WORDS, wordLevelTokenizer, writeJson } from "./fixture_files.ts";

/**
 * A tiny LLaMA-style (SentencePiece-converted) BPE: "▁"-prefix normaliser, byte fallback,
 * BOS via TemplateProcessing. Merges: "▁ a" → "▁a", "a b" → "ab", "▁a b" → "▁ab".
 */
function tinyBpe(withImageToken: boolean): Record<string, unknown> {
  const vocab: Record<string, number> = {
    "<unk>": 0,
    "<s>": 1,
    "</s>": 2,
    "<0x0A>": 3,
    "▁": 4,
    a: 5,
    b: 6,
    "▁a": 7,
    ab: 8,
    "▁ab": 9,
  };
  const added = [
    { id: 0, content: "<unk>", special: true },
    { id: 1, content: "<s>", special: true },
    { id: 2, content: "</s>", special: true },
  ];
  if (withImageToken) added.push({ id: 10, content: "<image>", special: true });
  return {
    version: "1.0",
    added_tokens: added.map((t) => ({
      ...t,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
    })),
    normalizer: {
      type: "Sequence",
      normalizers: [
        { type: "Prepend", prepend: "▁" },
        { type: "Replace", pattern: { String: " " }, content: "▁" },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: [],
      special_tokens: { "<s>": { id: "<s>", ids: [1], tokens: ["<s>"] } },
    },
    decoder: {
      type: "Sequence",
      decoders: [
        { type: "Replace", pattern: { String: "▁" }, content: " " },
        { type: "ByteFallback" },
        { type: "Fuse" },
        { type: "Strip", content: " ", start: 1, stop: 0 },
      ],
    },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: "<unk>",
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      vocab,
      merges: ["▁ a", "a b", "▁a b"],
    },
  };
}

const BPE_CONFIG = {
  bos_token: { __type: "AddedToken", content: "<s>", special: true },
  eos_token: "</s>",
  unk_token: "<unk>",
  chat_template: "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}",
};

Deno.test("WordLevel tokenizer: encode, decode, special tokens, unknown words", () => {
  const tok = TextTokenizer.fromJson(wordLevelTokenizer(TINY_WORDS), {
    bos_token: "<s>",
    eos_token: "</s>",
  });
  assertEquals(tok.vocabSize, TINY_WORDS.length);
  assertEquals(tok.bosTokenId, 1);
  assertEquals(tok.eosTokenId, 2);
  assertEquals(tok.tokenId("red"), 7);
  assertEquals(tok.tokenText(8), "square");
  assertEquals(tok.encode("a red square"), [1, 6, 7, 8]);
  assertEquals(tok.encode("a red square", { addSpecialTokens: false }), [6, 7, 8]);
  assertEquals(tok.encode("a blue square", { addSpecialTokens: false }), [6, 0, 8]);
  assertEquals(tok.decode([1, 6, 7, 8, 2], { skipSpecialTokens: true }), "a red square");
  assertEquals(tok.decode([]), "");
  // <image> is one token, whatever surrounds it.
  assertEquals(tok.encode("USER: <image>\nwhat is this?", { addSpecialTokens: false }), [
    4,
    3,
    9,
    10,
    11,
  ]);
  assertEquals(tok.encodePrompt("USER: <image>\nwhat is this?", 3), [1, 4, 3, 9, 10, 11]);
});

Deno.test("WordLevel tokenizer: image token id must match the config's", () => {
  const tok = TextTokenizer.fromJson(wordLevelTokenizer(TINY_WORDS), {});
  const e = assertThrows(() => tok.encodePrompt("<image> a", 32000), CheckpointError, "<image>");
  assertStringIncludes(e.message, "32000");
});

Deno.test("BPE tokenizer (LLaMA style): merges, prefix space, BOS, byte fallback, decode", () => {
  const tok = TextTokenizer.fromJson(tinyBpe(false), BPE_CONFIG);
  assertEquals(tok.bosToken, "<s>");
  assertEquals(tok.vocabSize, 10);
  // "ab ab" → "▁ab▁ab" → ▁a b ▁a b → ▁ab ▁ab
  assertEquals(tok.encode("ab ab"), [1, 9, 9]);
  assertEquals(tok.encode("ba", { addSpecialTokens: false }), [4, 6, 5]);
  // "\n" has no token: byte fallback gives <0x0A>.
  assertEquals(tok.encode("\nab", { addSpecialTokens: false }), [4, 3, 8]);
  assertEquals(tok.decode([1, 9, 9], { skipSpecialTokens: true }), "ab ab");
  assertEquals(tok.chatTemplate, BPE_CONFIG.chat_template);
});

Deno.test("BPE tokenizer without <image>: LLaVA's tokenizer_image_token splitting", () => {
  const tok = TextTokenizer.fromJson(tinyBpe(false), BPE_CONFIG);
  // Pieces "a" and "\nab", each with BOS; the second piece's BOS is dropped, -200 in between.
  assertEquals(tok.encodePrompt("a<image>\nab", LLAVA_IMAGE_TOKEN_INDEX), [1, 7, -200, 4, 3, 8]);
  // A leading image: the empty first piece keeps only its BOS.
  assertEquals(tok.encodePrompt("<image>\nab", LLAVA_IMAGE_TOKEN_INDEX), [1, -200, 4, 3, 8]);
  assertEquals(tok.decode([1, 7, -200, 9], { skipSpecialTokens: true }), "a ab");
});

Deno.test("BPE tokenizer with <image> as an added token keeps it whole", () => {
  const tok = TextTokenizer.fromJson(tinyBpe(true), BPE_CONFIG);
  // The text after an added token is normalised on its own, so it gets its own "▁" (as HF's
  // Rust tokenizer does with the legacy Prepend normaliser: llava-hf's 29871 after <image>).
  assertEquals(tok.encodePrompt("a<image>\nab", 10), [1, 7, 10, 4, 3, 8]);
});

Deno.test("TextTokenizer.load reads both files; a missing tokenizer.json is named", () => {
  const dir = Deno.makeTempDirSync();
  assertThrows(() => TextTokenizer.load(dir), CheckpointError, join(dir, "tokenizer.json"));
  Deno.writeTextFileSync(join(dir, "tokenizer.model"), "");
  assertMatch(
    assertThrows(() => TextTokenizer.load(dir), Error).message,
    /convert it to tokenizer.json/,
  );
  writeJson(dir, "tokenizer.json", tinyBpe(false));
  writeJson(dir, "tokenizer_config.json", BPE_CONFIG);
  const tok = TextTokenizer.load(dir);
  assertEquals(tok.encode("ab"), [1, 9]);
  Deno.writeTextFileSync(join(dir, "tokenizer_config.json"), "{nope");
  assertThrows(() => TextTokenizer.load(dir), CheckpointError, "tokenizer_config.json");
});
