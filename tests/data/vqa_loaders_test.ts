import { assert, assertEquals, assertThrows } from "@std/assert";
import { join } from "node:path";
import { loadLlavaDescription, parseLlavaDescription } from "../../lib/data/llava_description.ts";
import { loadMmVet, parseMmVet } from "../../lib/data/mm_vet.ts";
import { InputError } from "../../lib/errors.ts";

function tempImages(names: string[]): string {
  const dir = Deno.makeTempDirSync();
  for (const n of names) Deno.writeFileSync(join(dir, n), new Uint8Array([0]));
  return dir;
}

const desc = (
  id: string,
  image: string,
  q = "<image>\nDescribe the image in detail.",
  a = "A cat.",
) => ({
  id,
  image,
  conversations: [{ from: "human", value: q }, { from: "gpt", value: a }],
});

Deno.test("LLaVA-Description: detail_1k layout, question without <image>, answer, image path", () => {
  const dir = tempImages(["a.jpg", "b.jpg"]);
  const file = join(dir, "detail_1k.json");
  Deno.writeTextFileSync(
    file,
    JSON.stringify([desc("1", "a.jpg"), desc("2", "b.jpg", "What is this?\n<image>", "A dog.")]),
  );
  const { samples, skipped } = loadLlavaDescription(file, { imageDir: dir });
  assertEquals(samples.map((s) => [s.id, s.question, s.answer]), [
    ["1", "Describe the image in detail.", "A cat."],
    ["2", "What is this?", "A dog."],
  ]);
  assertEquals(samples[0].image, join(dir, "a.jpg"));
  assertEquals(skipped, []);
});

Deno.test("LLaVA-Description: a bad entry is reported with its index; skipped only on request", () => {
  const dir = tempImages(["a.jpg"]);
  const data = [
    desc("1", "a.jpg"),
    desc("2", "missing.jpg"),
    { id: "3", image: "a.jpg" },
    desc("4", "a.jpg", "no placeholder"),
  ];
  assertThrows(
    () => parseLlavaDescription(data, "d.json", { imageDir: dir }),
    InputError,
    "d.json: entry 1: image missing.jpg not found",
  );
  const why: number[] = [];
  const r = parseLlavaDescription(data, "d.json", {
    imageDir: dir,
    skipInvalid: true,
    onSkip: (i) => why.push(i),
  });
  assertEquals(r.samples.map((s) => s.id), ["1"]);
  assertEquals(r.skipped.map((s) => s.index), [1, 2, 3]);
  assert(r.skipped[1].reason.startsWith("conversations"), r.skipped[1].reason);
  assertEquals(why, [1, 2, 3]);
  assertThrows(
    () => parseLlavaDescription({}, "d.json", { imageDir: dir }),
    InputError,
    "JSON list",
  );
  assertThrows(
    () => parseLlavaDescription([], "d.json", { imageDir: dir }),
    InputError,
    "no usable entry",
  );
});

Deno.test("MM-Vet: Elastic Cache's list layout and the original keyed layout", () => {
  const dir = tempImages(["v1_0.png", "v1_1.png"]);
  const file = join(dir, "mm-vet.json");
  Deno.writeTextFileSync(
    file,
    JSON.stringify([{ image: "v1_0.png", question: "What is 2+2?", answer: "4" }]),
  );
  const list = loadMmVet(file, { imageDir: dir }).samples;
  assertEquals(list.map((s) => [s.id, s.question, s.answer]), [["#0", "What is 2+2?", "4"]]);
  const keyed = parseMmVet(
    {
      v1_0: { imagename: "v1_0.png", question: "Q?", answer: "A" },
      v1_1: { imagename: "v1_1.png", question: "", answer: "B" },
    },
    "mm-vet.json",
    { imageDir: dir, skipInvalid: true },
  );
  assertEquals(keyed.samples.map((s) => s.id), ["v1_0"]);
  assertEquals(keyed.skipped.map((s) => s.index), [1]);
  assertThrows(
    () => parseMmVet({ v1_0: { question: "Q?", answer: "A" } }, "m.json", { imageDir: dir }),
    InputError,
    'entry 0 ("v1_0"): image: missing',
  );
  assertThrows(
    () => parseMmVet([], "m.json", { imageDir: "/no/such/dir" }),
    InputError,
    "--images",
  );
});

Deno.test("loaders: image and folder problems name their cause (missing, a folder, a file)", () => {
  const dir = tempImages(["a.jpg"]);
  Deno.mkdirSync(join(dir, "sub.jpg"));
  const parse = (image: string) => () =>
    parseLlavaDescription([desc("1", image)], "d.json", { imageDir: dir });
  assertThrows(parse("gone.jpg"), InputError, "image gone.jpg not found");
  assertThrows(parse("sub.jpg"), InputError, "image sub.jpg is a folder, not a file");
  assertThrows(parse("a.jpg/x.jpg"), InputError, "a part of the path is a file, not a folder");
  assertThrows(
    () => parseMmVet([], "m.json", { imageDir: join(dir, "a.jpg") }),
    InputError,
    "is a file, not a folder (--images)",
  );
  assertThrows(
    () => parseMmVet([], "m.json", { imageDir: join(dir, "nothing") }),
    InputError,
    "not found (--images)",
  );
});
