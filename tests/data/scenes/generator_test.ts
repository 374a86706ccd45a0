import { assert, assertEquals, assertNotEquals } from "@std/assert";
import { decode } from "fast-png";
import { join } from "node:path";
import { encodePng, generateSplit, writeSplit } from "../../../lib/data/scenes/dataset.ts";
import { generateScene, renderScene } from "../../../lib/data/scenes/generator.ts";
import { BACKGROUND, COLORS, PLACES } from "../../../lib/data/scenes/vocabulary.ts";

async function sha256(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(bytes)));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("same seed gives byte-identical PNGs and JSON on disk", async () => {
  const a = await Deno.makeTempDir(), b = await Deno.makeTempDir();
  try {
    await writeSplit({ out: a, split: "test", count: 12, seed: 7 });
    await writeSplit({ out: b, split: "test", count: 12, seed: 7 });
    const files = ["test.json", "test_scenes.json", "test_images.bin"];
    for (let i = 0; i < 12; i++) {
      files.push(join("images", `test-${String(i).padStart(6, "0")}.png`));
    }
    for (const f of files) {
      assertEquals(await Deno.readFile(join(a, f)), await Deno.readFile(join(b, f)), f);
    }
  } finally {
    await Deno.remove(a, { recursive: true });
    await Deno.remove(b, { recursive: true });
  }
});

Deno.test("different seeds or splits give different scenes; scene i ignores the count", () => {
  const s1 = generateSplit("train", 20, 1), s2 = generateSplit("train", 20, 2);
  const t1 = generateSplit("test", 20, 1);
  assertNotEquals(s1.scenes.map((s) => s.objects), s2.scenes.map((s) => s.objects));
  assertNotEquals(s1.scenes.map((s) => s.objects), t1.scenes.map((s) => s.objects));
  assertEquals(
    generateSplit("train", 5, 1).records,
    s1.records.filter((r) => Number(r.id.slice(6, 12)) < 5),
  );
});

Deno.test("scenes have 1-4 objects in distinct cells, sorted, with consistent place words", () => {
  const counts = new Set<number>();
  for (let i = 0; i < 500; i++) {
    const s = generateScene(3, "test", i);
    counts.add(s.objects.length);
    assert(s.objects.length >= 1 && s.objects.length <= 4);
    const cells = s.objects.map((o) => o.cell);
    assertEquals(cells, [...new Set(cells)].sort((x, y) => x - y));
    for (const o of s.objects) assertEquals(o.place, PLACES[o.cell]);
  }
  assertEquals([...counts].sort(), [1, 2, 3, 4]);
});

Deno.test("rendered object colour appears at its centre; PNG decodes to the same pixels", () => {
  for (let i = 0; i < 30; i++) {
    const scene = generateScene(5, "calib", i);
    const img = renderScene(scene);
    for (const o of scene.objects) {
      // The centre pixel is fully inside every shape (the triangle's too, radius ≥ 4).
      const p = (o.cy * 64 + o.cx) * 3;
      assertEquals(Array.from(img.data.subarray(p, p + 3)), [...COLORS[o.color]]);
    }
    assertEquals(Array.from(img.data.subarray(0, 3)).length, 3);
    const png = decode(encodePng(img));
    assertEquals([png.width, png.height, png.channels, png.depth], [64, 64, 3, 8]);
    assertEquals(new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length), img.data);
  }
  // An empty corner stays background in a scene without a top-left object.
  const s = generateScene(5, "calib", 0);
  if (!s.objects.some((o) => o.cell === 0)) {
    assertEquals(Array.from(renderScene(s).data.subarray(0, 3)), [...BACKGROUND]);
  }
});

Deno.test("pinned pixel hash guards cross-machine determinism of the first train scene", async () => {
  // Pinned once from this implementation: any change to PRNG, layout or rasterizer changes it,
  // which would silently change the training data of the bundled model.
  const img = renderScene(generateScene(1, "train", 0));
  assertEquals(await sha256(img.data), PINNED_TRAIN0_SHA256);
});

const PINNED_TRAIN0_SHA256 = "4db8bd4cb62ec9436f21c724735ffe97875b8188a56f489be98358579e23cfa3";
