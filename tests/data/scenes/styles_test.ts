import { assert, assertEquals, assertNotEquals, assertThrows } from "@std/assert";
import { join } from "node:path";
import { writeSplit } from "../../../lib/data/scenes/dataset.ts";
import {
  generateScene,
  objectPixelMasks,
  renderScene,
  sceneStyle,
} from "../../../lib/data/scenes/generator.ts";
import { describeScene } from "../../../lib/data/scenes/conversations.ts";
import { scoreDescription } from "../../../lib/data/scenes/parser.ts";
import {
  checkSceneStyle,
  STYLE_SPECS,
  styleForImageSize,
} from "../../../lib/data/scenes/styles.ts";
import { BACKGROUND, COLORS, PLACES } from "../../../lib/data/scenes/vocabulary.ts";
import { InputError } from "../../../lib/errors.ts";

async function sha256(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(bytes)));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

const RICH = STYLE_SPECS.rich;

Deno.test("rich scenes: 2-6 objects in distinct sorted cells, every count drawn, places consistent", () => {
  const counts = new Map<number, number>();
  for (let i = 0; i < 1000; i++) {
    const s = generateScene(3, "test", i, "rich");
    const n = s.objects.length;
    counts.set(n, (counts.get(n) ?? 0) + 1);
    const cells = s.objects.map((o) => o.cell);
    assertEquals(cells, [...new Set(cells)].sort((x, y) => x - y));
    for (const o of s.objects) assertEquals(o.place, PLACES[o.cell]);
    assertEquals(sceneStyle(s), "rich");
  }
  assertEquals([...counts.keys()].sort(), [2, 3, 4, 5, 6]);
  // Uniform over five counts: each near 200 of 1000 (a 5-sigma band).
  for (const [n, c] of counts) assert(c > 120 && c < 280, `count ${n} drawn ${c} times`);
});

Deno.test("basic scenes carry no style fields, so their JSON is what it always was", () => {
  const s = generateScene(1, "train", 0);
  assertEquals(Object.keys(s), ["id", "objects"]);
  assertEquals(sceneStyle(s), "basic");
  assertEquals(generateScene(1, "train", 0, "basic"), s);
});

Deno.test("rich images: 224², object colour at each centre, every object inside its own cell", () => {
  const start = (k: number) => Math.floor((k * RICH.imageSize) / 3);
  for (let i = 0; i < 20; i++) {
    const scene = generateScene(5, "calib", i, "rich");
    const img = renderScene(scene);
    assertEquals([img.width, img.height, img.data.length], [224, 224, 224 * 224 * 3]);
    const masks = objectPixelMasks(scene);
    scene.objects.forEach((o, k) => {
      const p = (o.cy * 224 + o.cx) * 3;
      assertEquals(Array.from(img.data.subarray(p, p + 3)), [...COLORS[o.color]]);
      const row = Math.floor(o.cell / 3), col = o.cell % 3;
      let covered = 0;
      for (let y = 0; y < 224; y++) {
        for (let x = 0; x < 224; x++) {
          if (!masks[k][y * 224 + x]) continue;
          covered++;
          assert(x >= start(col) && x < start(col + 1) && y >= start(row) && y < start(row + 1));
        }
      }
      // A small triangle covers about half of its (2·12)² box; a large square all of (2·24)².
      assert(covered > 200 && covered <= 50 * 50, `object ${k} covers ${covered} pixels`);
    });
  }
});

Deno.test("rich background is dim, grey and varies between scenes and within one", () => {
  const a = generateScene(1, "train", 0, "rich"), b = generateScene(1, "train", 1, "rich");
  assertNotEquals(a.backgroundSeed, b.backgroundSeed);
  for (const scene of [a, b]) {
    const img = renderScene(scene);
    const masks = objectPixelMasks(scene);
    const values = new Set<number>();
    for (let i = 0; i < 224 * 224; i++) {
      if (masks.some((m) => m[i])) continue;
      const [r, g, bl] = img.data.subarray(i * 3, i * 3 + 3);
      assert(Math.max(r, g, bl) <= 75 + 6 + 18 + 5, `pixel ${i} too bright`);
      assert(Math.max(r, g, bl) - Math.min(r, g, bl) <= 12, `pixel ${i} not grey`);
      values.add(r);
    }
    assert(values.size > 20, `only ${values.size} background levels`);
  }
  assertNotEquals(renderScene(a).data.subarray(0, 300), renderScene(b).data.subarray(0, 300));
});

Deno.test("basic object masks are exactly the pixels a lone object changes", () => {
  const scene = generateScene(3, "test", 4);
  const masks = objectPixelMasks(scene);
  scene.objects.forEach((o, k) => {
    const img = renderScene({ id: scene.id, objects: [o] });
    for (let i = 0; i < 64 * 64; i++) {
      const bg = img.data[i * 3] === BACKGROUND[0] && img.data[i * 3 + 1] === BACKGROUND[1] &&
        img.data[i * 3 + 2] === BACKGROUND[2];
      assertEquals(masks[k][i], bg ? 0 : 1, `object ${k}, pixel ${i}`);
    }
  });
});

Deno.test("rich descriptions (up to six objects) parse back exactly", () => {
  let six = 0;
  for (let i = 0; i < 50; i++) {
    const scene = generateScene(2, "test", i, "rich");
    if (scene.objects.length === 6) six++;
    const text = describeScene(scene);
    assert(scoreDescription(scene, text).exact, text);
  }
  assert(six > 0);
  assert(describeScene(generateScene(2, "test", 0, "rich")).length > 0);
});

Deno.test("writeSplit in the rich style writes [N,224,224,3] raw images, deterministically", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeSplit({ out: dir, split: "train", count: 3, seed: 1, style: "rich" });
    const raw = await Deno.readFile(join(dir, "train_images.bin"));
    assertEquals(raw.length, 3 * 224 * 224 * 3);
    const frame = 224 * 224 * 3;
    assertEquals(
      raw.subarray(frame, 2 * frame),
      renderScene(generateScene(1, "train", 1, "rich")).data,
    );
    const scenes = JSON.parse(await Deno.readTextFile(join(dir, "train_scenes.json")));
    assertEquals(scenes[0], generateScene(1, "train", 0, "rich"));
    assertEquals(await sha256(raw.subarray(0, 224 * 224 * 3)), PINNED_RICH_TRAIN0_SHA256);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pinned pixel hash guards determinism of the first rich train scene", async () => {
  assertEquals(
    await sha256(renderScene(generateScene(1, "train", 0, "rich")).data),
    PINNED_RICH_TRAIN0_SHA256,
  );
});

Deno.test("an unknown style name is an InputError naming the choices", () => {
  assertEquals(checkSceneStyle("rich"), "rich");
  const e = assertThrows(() => checkSceneStyle("fancy", "--style"), InputError);
  assert(e.message.includes("basic or rich"), e.message);
});

// Pinned once from this implementation, like the basic style's pin in generator_test.ts.
const PINNED_RICH_TRAIN0_SHA256 =
  "a6e14b7985af94854affeb951a012eccbedce27292ff837bb9b46e6706786293";

Deno.test("scene style follows the vision tower's image size", () => {
  assertEquals(styleForImageSize(64), "basic");
  assertEquals(styleForImageSize(224), "rich");
  assertThrows(() => styleForImageSize(336), InputError, "336-pixel");
});
