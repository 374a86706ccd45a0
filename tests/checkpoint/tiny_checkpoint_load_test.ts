// Cross-check against the test-checkpoint generator: loading what it writes must give the spec
// it says a correct parser produces, and the weights it holds.
import { assert, assertEquals } from "@std/assert";
import { loadCheckpoint } from "../../lib/checkpoint/checkpoint.ts";
import { formatPrompt } from "../../lib/checkpoint/chat.ts";
import { SPECIAL_TOKENS, writeTinyLlama, writeTinyLlava } from "../fixtures/tiny_checkpoint.ts";

Deno.test("loadCheckpoint(tiny llava-hf): spec, weights, tokenizer and chat template", async () => {
  const dir = Deno.makeTempDirSync();
  const written = await writeTinyLlava(dir, { dtype: "F16", sharded: true, kvHeads: 2 });
  const ck = await loadCheckpoint(dir);
  try {
    assertEquals(ck.spec, written.spec);
    assertEquals(ck.tensors.names(), written.store.names());
    for (const name of written.store.names()) {
      assertEquals([...ck.tensors.getF32(name)], [...written.store.getF32(name)], name);
    }
    assertEquals(ck.chatFormat.kind, "template");
    const prompt = formatPrompt(ck.chatFormat, "What is this?", { image: true });
    assert(prompt.includes("USER: <image>\nWhat is this? ASSISTANT:"), prompt);
    const ids = ck.tokenizer.encodePrompt(prompt, ck.spec.imageTokenId);
    assertEquals(ids.filter((i) => i === SPECIAL_TOKENS.image).length, 1);
    assertEquals(ck.tokenizer.vocabSize, ck.spec.text.vocabSize);
    assert(ck.imageProcessor);
  } finally {
    ck.tensors.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("loadCheckpoint(tiny llama, tied embeddings): spec and weights", async () => {
  const dir = Deno.makeTempDirSync();
  const written = await writeTinyLlama(dir, { tieWordEmbeddings: true });
  const ck = await loadCheckpoint(dir);
  try {
    assertEquals(ck.spec, written.spec);
    assertEquals(ck.imageProcessor, undefined);
    const embed = ck.spec.text.lmHead;
    assertEquals([...ck.tensors.getF32(embed)], [...written.store.getF32(embed)]);
  } finally {
    ck.tensors.close();
    Deno.removeSync(dir, { recursive: true });
  }
});
