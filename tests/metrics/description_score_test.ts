import { assertAlmostEquals, assertEquals } from "@std/assert";
import type { Scene, SceneObject } from "../../lib/data/scenes/generator.ts";
import { meanObjectF1, objectF1 } from "../../lib/metrics/description_score.ts";

function obj(size: string, color: string, shape: string, place: string): SceneObject {
  return { size, color, shape, place, cell: 0, cx: 0, cy: 0 } as SceneObject;
}

const SCENE: Scene = {
  id: "hand",
  objects: [
    obj("large", "red", "circle", "top left"),
    obj("small", "blue", "square", "center"),
    obj("small", "green", "triangle", "bottom"),
  ],
};

Deno.test("objectF1: an empty answer scores 0, a perfect one 1", () => {
  assertEquals(objectF1(SCENE, ""), {
    precision: 0,
    recall: 0,
    f1: 0,
    right: 0,
    stated: 0,
    truth: 3,
  });
  const exact = "There are three objects. A large red circle is at the top left. " +
    "A small blue square is at the center. A small green triangle is at the bottom.";
  assertEquals(objectF1(SCENE, exact).f1, 1);
});

Deno.test("objectF1 by hand: one right, one wrongly placed, one missing", () => {
  const s = objectF1(
    SCENE,
    "There are two objects. A large red circle is at the top left. A small blue square is at the top.",
  );
  // right 1, stated 2, truth 3: P = 1/2, R = 1/3, F1 = 2·1/(2+3) = 0.4
  assertEquals([s.right, s.stated, s.truth], [1, 2, 3]);
  assertAlmostEquals(s.precision, 0.5, 1e-15);
  assertAlmostEquals(s.recall, 1 / 3, 1e-15);
  assertAlmostEquals(s.f1, 0.4, 1e-15);
  assertAlmostEquals(meanObjectF1([s, objectF1(SCENE, "")]), 0.2, 1e-15);
  assertEquals(meanObjectF1([]), 0);
});
