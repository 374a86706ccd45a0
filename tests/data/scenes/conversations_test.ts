import { assert, assertEquals } from "@std/assert";
import { generateScene } from "../../../lib/data/scenes/generator.ts";
import {
  conversationsFor,
  DESCRIBE_QUESTION,
  describeScene,
} from "../../../lib/data/scenes/conversations.ts";
import { Prng } from "../../../lib/random.ts";

Deno.test("description of a fixed scene reads as expected", () => {
  const scene = {
    id: "s",
    objects: [
      {
        shape: "circle" as const,
        color: "red" as const,
        size: "large" as const,
        place: "top left" as const,
        cell: 0,
        cx: 10,
        cy: 10,
      },
      {
        shape: "diamond" as const,
        color: "blue" as const,
        size: "small" as const,
        place: "bottom" as const,
        cell: 7,
        cx: 31,
        cy: 53,
      },
    ],
  };
  assertEquals(
    describeScene(scene),
    "There are two objects. A large red circle is at the top left. A small blue diamond is at the bottom.",
  );
  assertEquals(
    describeScene({ id: "t", objects: [scene.objects[1]] }).split(".")[0],
    "There is one object",
  );
});

for (const style of ["word", "sentence"] as const) {
  Deno.test(`conversations follow the detail_1k layout and answer correctly (${style})`, () => {
    const rng = new Prng(9);
    let yes = 0, no = 0;
    for (let i = 0; i < 300; i++) {
      const scene = generateScene(11, "train", i);
      const recs = conversationsFor(scene, rng, style);
      for (const r of recs) {
        assertEquals(r.image, `${scene.id}.png`);
        assertEquals(r.conversations.map((t) => t.from), ["human", "gpt"]);
        assert(r.conversations[0].value.startsWith("<image>\n"));
        assert(r.conversations[1].value.endsWith("."));
      }
      const by = Object.fromEntries(recs.map((r) => [r.kind, r.conversations]));
      assertEquals(by.describe[0].value, `<image>\n${DESCRIBE_QUESTION}`);
      const answer = (kind: string) => by[kind][1].value.toLowerCase();
      // Count.
      const n = ["zero", "one", "two", "three", "four"][scene.objects.length];
      assertEquals(
        answer("count"),
        style === "word"
          ? `${n}.`
          : scene.objects.length === 1
          ? "there is one object."
          : `there are ${n} objects.`,
      );
      // Presence: "Is there a <colour> <shape>?" is answered from the true objects.
      const m = /^<image>\nIs there a (\w+) (\w+)\?$/.exec(by.presence[0].value)!;
      const present = scene.objects.some((o) => o.color === m[1] && o.shape === m[2]);
      assertEquals(by.presence[1].value, present ? "Yes." : "No.");
      present ? yes++ : no++;
      // Colour: the named object's colour.
      const c = /^<image>\nWhat color is the (.+)\?$/.exec(by.color[0].value)![1];
      const color = /(\w+)\.$/.exec(answer("color"))![1];
      if (style === "sentence") assertEquals(answer("color"), `the ${c} is ${color}.`);
      assert(scene.objects.some((o) => c.includes(o.shape) && o.color === color));
      // Place: the named object's place.
      if (by.place) {
        const ref = /^<image>\nWhere is the (.+)\?$/.exec(by.place[0].value)![1];
        const place = style === "word"
          ? answer("place").slice(0, -1)
          : /is at the (.+)\.$/.exec(answer("place"))![1];
        assert(
          scene.objects.some((o) => ref.endsWith(`${o.color} ${o.shape}`) && o.place === place),
        );
      }
    }
    assert(yes > 100 && no > 100, `yes ${yes} no ${no}`);
  });
}
