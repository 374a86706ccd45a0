/**
 * The text tokenizer of a checkpoint: `tokenizer.json` (+ `tokenizer_config.json`) through
 * `@huggingface/tokenizers`, with the `<image>` placeholder handled the way each LLaVA layout
 * expects.
 *
 * @module
 */

import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { CheckpointError, fileIsPresent, InputError } from "../errors.ts";
import { readJsonFile } from "./config.ts";

/** The text that marks where an image goes in a prompt. */
export const IMAGE_PLACEHOLDER = "<image>";

/** Options of {@link TextTokenizer.encode}. */
export interface EncodeOptions {
  /** Add BOS/EOS as the tokenizer's post-processor says (default true). */
  addSpecialTokens?: boolean;
}

/** Options of {@link TextTokenizer.decode}. */
export interface DecodeOptions {
  /** Drop special tokens (BOS, EOS, pad, `<image>`…) from the text (default false). */
  skipSpecialTokens?: boolean;
}

/** `tokenizer_config.json` stores special tokens as strings or as `{content: …}` objects. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && typeof (v as { content?: unknown }).content === "string") {
    return (v as { content: string }).content;
  }
  return undefined;
}

/** A loaded tokenizer. Create with {@link TextTokenizer.load} or {@link TextTokenizer.fromJson}. */
export class TextTokenizer {
  /** Where the tokenizer came from (for messages). */
  readonly source: string;
  /** The parsed `tokenizer_config.json` (special tokens normalised to strings). */
  readonly config: Readonly<Record<string, unknown>>;
  /** Number of ids: one past the largest id of the vocabulary and the added tokens. */
  readonly vocabSize: number;
  /** `bos_token` text, when configured. */
  readonly bosToken?: string;
  /** `eos_token` text, when configured. */
  readonly eosToken?: string;
  /** `unk_token` text, when configured. */
  readonly unkToken?: string;
  /** `pad_token` text, when configured. */
  readonly padToken?: string;
  /** The Jinja chat template from `tokenizer_config.json`, when present (the default one). */
  readonly chatTemplate?: string;
  #tok: Tokenizer;

  private constructor(
    tok: Tokenizer,
    config: Record<string, unknown>,
    source: string,
  ) {
    this.#tok = tok;
    this.config = config;
    this.source = source;
    let max = -1;
    for (const id of tok.get_vocab(true).values()) max = Math.max(max, id);
    this.vocabSize = max + 1;
    this.bosToken = config.bos_token as string | undefined;
    this.eosToken = config.eos_token as string | undefined;
    this.unkToken = config.unk_token as string | undefined;
    this.padToken = config.pad_token as string | undefined;
    const tpl = config.chat_template;
    if (typeof tpl === "string") this.chatTemplate = tpl;
    else if (Array.isArray(tpl)) {
      // Named templates: [{name, template}]; the one called "default" is the chat one.
      const d = tpl.find((t) => t?.name === "default") ?? tpl[0];
      if (typeof d?.template === "string") this.chatTemplate = d.template;
    }
  }

  /**
   * Builds a tokenizer from parsed `tokenizer.json` and `tokenizer_config.json` objects.
   * `source` names them in error messages.
   */
  static fromJson(
    tokenizerJson: unknown,
    tokenizerConfig: Record<string, unknown> = {},
    source = "tokenizer.json",
  ): TextTokenizer {
    if (typeof tokenizerJson !== "object" || tokenizerJson === null) {
      throw new CheckpointError(`${source}: expected a JSON object`);
    }
    const json: Record<string, unknown> = {
      added_tokens: [],
      ...(tokenizerJson as Record<string, unknown>),
    };
    const model = json.model as Record<string, unknown> | undefined;
    if (!model || typeof model !== "object") {
      throw new CheckpointError(`${source}: field model is missing`);
    }
    const config: Record<string, unknown> = { ...tokenizerConfig };
    for (const k of ["bos_token", "eos_token", "unk_token", "pad_token"]) {
      const t = tokenText(config[k]);
      if (t === undefined) delete config[k];
      else config[k] = t;
    }
    // A WordLevel model keeps its unknown token in the model section; the library's generic
    // vocabulary model reads it from the config.
    if (model.type === "WordLevel" && config.unk_token === undefined) {
      config.unk_token = tokenText(model.unk_token);
    }
    let tok: Tokenizer;
    try {
      tok = new Tokenizer(json, config);
    } catch (err) {
      throw new CheckpointError(`${source}: cannot build the tokenizer: ${(err as Error).message}`);
    }
    return new TextTokenizer(tok, config, source);
  }

  /** Loads `dir/tokenizer.json` and, when present, `dir/tokenizer_config.json`. */
  static load(dir: string): TextTokenizer {
    const path = join(dir, "tokenizer.json");
    if (!fileIsPresent(path, "tokenizer file")) {
      let hint = "";
      try {
        Deno.statSync(join(dir, "tokenizer.model"));
        hint = "; only a SentencePiece tokenizer.model is present — convert it to tokenizer.json " +
          "(e.g. load it with transformers' LlamaTokenizerFast and save_pretrained)";
      } catch { /* no hint */ }
      throw new CheckpointError(`${path}: tokenizer file not found${hint}`);
    }
    const json = readJsonFile(path, "tokenizer file");
    const cfgPath = join(dir, "tokenizer_config.json");
    let cfg: Record<string, unknown> = {};
    if (fileIsPresent(cfgPath, "tokenizer config")) {
      cfg = readJsonFile(cfgPath, "tokenizer config") as Record<string, unknown>;
    }
    return TextTokenizer.fromJson(json, cfg, path);
  }

  /** Text → token ids. */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    return this.#tok.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }).ids;
  }

  /** Token ids → text. Negative ids (the image placeholder of the original LLaVA) are dropped. */
  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    const real = ids.filter((i) => i >= 0);
    if (real.length === 0) return "";
    return this.#tok.decode(real, { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  /** Id of a token given by its text (vocabulary or added token), or `undefined`. */
  tokenId(token: string): number | undefined {
    return this.#tok.token_to_id(token);
  }

  /** Text of the token with id `id`, or `undefined`. */
  tokenText(id: number): string | undefined {
    return this.#tok.id_to_token(id);
  }

  /** Id of `bos_token`, when configured and known. */
  get bosTokenId(): number | undefined {
    return this.bosToken === undefined ? undefined : this.tokenId(this.bosToken);
  }

  /** Id of `eos_token`, when configured and known. */
  get eosTokenId(): number | undefined {
    return this.eosToken === undefined ? undefined : this.tokenId(this.eosToken);
  }

  /**
   * Encodes a prompt that may contain `<image>` placeholders, each becoming one `imageTokenId`
   * (the runtime later expands it into the image's feature vectors).
   *
   * - When the vocabulary has an `<image>` token (llava-hf, the bundled tiny model), its id must
   *   equal `imageTokenId` and the text is encoded in one go.
   * - Otherwise (original LLaVA, `imageTokenId` −200) the text is split at `<image>`, each piece
   *   is encoded with special tokens, the BOS of every piece after the first is dropped, and the
   *   pieces are joined with `imageTokenId` — as LLaVA's `tokenizer_image_token` does.
   */
  encodePrompt(text: string, imageTokenId?: number, opts: EncodeOptions = {}): number[] {
    const images = text.split(IMAGE_PLACEHOLDER).length - 1;
    if (images === 0) return this.encode(text, opts);
    if (imageTokenId === undefined) {
      throw new InputError(
        `the prompt contains ${IMAGE_PLACEHOLDER} but the model takes no images`,
      );
    }
    const own = this.tokenId(IMAGE_PLACEHOLDER);
    if (own !== undefined) {
      if (own !== imageTokenId) {
        throw new CheckpointError(
          `${this.source}: token ${IMAGE_PLACEHOLDER} has id ${own}, but config.json's ` +
            `image token id is ${imageTokenId}`,
        );
      }
      const ids = this.encode(text, opts);
      const found = ids.filter((i) => i === own).length;
      if (found !== images) {
        throw new CheckpointError(
          `${this.source}: ${IMAGE_PLACEHOLDER} is not kept as a single token (${images} in the ` +
            `text, ${found} ids ${own} after encoding); declare it as an added token`,
        );
      }
      return ids;
    }
    const add = opts.addSpecialTokens ?? true;
    const pieces = text.split(IMAGE_PLACEHOLDER).map((p) =>
      this.encode(p, { addSpecialTokens: add })
    );
    const bos = this.bosTokenId;
    const out: number[] = [];
    pieces.forEach((ids, i) => {
      if (i > 0) {
        out.push(imageTokenId);
        if (bos !== undefined && ids[0] === bos) ids = ids.slice(1);
      }
      out.push(...ids);
    });
    return out;
  }
}
