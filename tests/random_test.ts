import { assert, assertEquals } from "@std/assert";
import { hashString, mixSeed, mulberry32, Prng } from "../lib/random.ts";

Deno.test("mulberry32: pinned values (the scenes, samples and fixtures depend on them)", () => {
  const r = mulberry32(42);
  assertEquals([r(), r(), r()], [0.6011037519201636, 0.44829055899754167, 0.8524657934904099]);
  const s = mulberry32(0xdeadbeef);
  assertEquals([s(), s()], [0.9413696140982211, 0.26719574979506433]);
});

Deno.test("Prng: next is the raw draw over 2^32; int, range and pick agree with it", () => {
  const raw = new Prng(7), floats = new Prng(7), ints = new Prng(7), ranges = new Prng(7);
  for (let i = 0; i < 200; i++) {
    const u = raw.nextUint32();
    assertEquals(floats.next(), u / 2 ** 32);
    assertEquals(ints.int(13), Math.floor((u * 13) / 2 ** 32));
    assertEquals(ranges.range(-2, 2), -2 + Math.floor((u * 5) / 2 ** 32));
  }
  assertEquals(new Prng(3).pick(["a", "b", "c"]), ["a", "b", "c"][new Prng(3).int(3)]);
});

Deno.test("Prng.int stays in range and covers every value", () => {
  const rng = new Prng(42);
  const seen = new Set<number>();
  for (let i = 0; i < 1000; i++) {
    const v = rng.int(7);
    assert(Number.isInteger(v) && v >= 0 && v < 7);
    seen.add(v);
  }
  assertEquals(seen.size, 7);
  assertEquals(new Prng(42).nextUint32(), new Prng(42).nextUint32());
});

Deno.test("Prng.shuffle is a permutation and leaves its input alone", () => {
  const items = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const shuffled = new Prng(5).shuffle(items);
  assertEquals([...shuffled].sort((a, b) => a - b), items);
  assertEquals(items, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
});

Deno.test("mixSeed and hashString: 32-bit, order-sensitive, pinned", () => {
  assertEquals(hashString(""), 0x811c9dc5);
  assertEquals(hashString("a"), 0xe40c292c); // FNV-1a test vector
  assert(mixSeed(1, 2) !== mixSeed(2, 1));
  for (const v of [mixSeed(), mixSeed(0), mixSeed(-1, 2 ** 40), hashString("train")]) {
    assert(Number.isInteger(v) && v >= 0 && v < 2 ** 32);
  }
});
