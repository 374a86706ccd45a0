import { assertEquals } from "@std/assert";
import { generateScene } from "../../../lib/data/scenes/generator.ts";
import { describeScene } from "../../../lib/data/scenes/conversations.ts";
import {
  answersMatch,
  parseDescription,
  scoreDescription,
} from "../../../lib/data/scenes/parser.ts";

/** What a word-level tokenizer's decode produces: every token separated by one space. */
function wordLevelDecode(text: string): string {
  return (text.match(/\w+|[^\w\s]+/g) ?? []).join(" ");
}

Deno.test("parser round-trips every generated description (many seeds, both spellings)", () => {
  for (const seed of [0, 1, 2, 3, 99]) {
    for (let i = 0; i < 300; i++) {
      const scene = generateScene(seed, "train", i);
      const truth = scene.objects.map(({ size, color, shape, place }) => ({
        size,
        color,
        shape,
        place,
      }));
      for (const text of [describeScene(scene), wordLevelDecode(describeScene(scene))]) {
        const parsed = parseDescription(text);
        assertEquals(parsed, { count: scene.objects.length, objects: truth, unparsed: [] });
        const score = scoreDescription(scene, text);
        assertEquals(score.exact, true);
        assertEquals(score.objectsRight, scene.objects.length);
      }
    }
  }
});

Deno.test("parser reads the word-level form of a hand-written description", () => {
  const parsed = parseDescription(
    "There are two objects . A large red circle is at the top left . a small blue diamond is at the  bottom right .",
  );
  assertEquals(parsed, {
    count: 2,
    objects: [
      { size: "large", color: "red", shape: "circle", place: "top left" },
      { size: "small", color: "blue", shape: "diamond", place: "bottom right" },
    ],
    unparsed: [],
  });
});

Deno.test("scoring counts wrong, invented and missing objects", () => {
  const scene = {
    id: "x",
    objects: [
      { shape: "circle", color: "red", size: "large", place: "top left", cell: 0, cx: 10, cy: 10 },
      { shape: "square", color: "blue", size: "small", place: "center", cell: 4, cx: 31, cy: 31 },
    ],
  } as const;
  const s = scoreDescription(
    { id: scene.id, objects: scene.objects.map((o) => ({ ...o })) },
    "There are three objects. A large red circle is at the top left. A small green square is at the center. A small red diamond is at the top. It is nice.",
  );
  assertEquals(s, {
    objectsRight: 1,
    objectsTotal: 2,
    invented: 2,
    countRight: false,
    exact: false,
  });
});

Deno.test("short answers compare without case or spaces before punctuation", () => {
  assertEquals(answersMatch("The circle is red.", "the circle is red ."), true);
  assertEquals(answersMatch("Yes.", "No ."), false);
});
