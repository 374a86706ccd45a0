/**
 * LLaVA-style conversations for a scene, in the record layout of LLaVA's `detail_1k.json`:
 * one detailed description plus short questions (count, colour, place, presence).
 *
 * @module
 */
import type { Prng } from "../../random.ts";
import type { Scene, SceneObject } from "./generator.ts";
import { COLOR_NAMES, COUNT_WORDS, SHAPES } from "./vocabulary.ts";

/** The question that asks for a full description. */
export const DESCRIBE_QUESTION = "Describe the image in detail.";

/**
 * How short questions are answered: `word` gives just the answer ("Yellow.", "Top right.",
 * "Three.", "Yes."); `sentence` echoes the question ("The square is yellow."), which a tiny model
 * must learn to copy from the prompt and which it learns much more slowly.
 */
export type AnswerStyle = "word" | "sentence";

/** The kinds of conversation generated per scene. */
export type ConversationKind = "describe" | "count" | "color" | "place" | "presence";

/** One turn of a conversation, as in LLaVA's JSON files. */
export interface Turn {
  /** `"human"` or `"gpt"`. */
  from: "human" | "gpt";
  /** Text; the human turn starts with `"<image>\n"`. */
  value: string;
}

/** One record of the conversation file (detail_1k layout plus a `kind` field). */
export interface ConversationRecord {
  /** Unique id: scene id plus kind. */
  id: string;
  /** Image file name relative to the `images/` folder. */
  image: string;
  /** Human question then assistant answer. */
  conversations: Turn[];
  /** Which kind of question this is. */
  kind: ConversationKind;
}

/** The sentence that states how many objects there are, e.g. "There are three objects.". */
export function countSentence(n: number): string {
  return n === 1 ? "There is one object." : `There are ${COUNT_WORDS[n]} objects.`;
}

/** The sentence for one object, e.g. "A large red circle is at the top left.". */
export function objectSentence(o: Pick<SceneObject, "size" | "color" | "shape" | "place">): string {
  return `A ${o.size} ${o.color} ${o.shape} is at the ${o.place}.`;
}

/** The detailed description: the count sentence, then one sentence per object in reading order. */
export function describeScene(scene: Scene): string {
  return [countSentence(scene.objects.length), ...scene.objects.map(objectSentence)].join(" ");
}

function record(scene: Scene, kind: ConversationKind, q: string, a: string): ConversationRecord {
  return {
    id: `${scene.id}-${kind}`,
    image: `${scene.id}.png`,
    conversations: [{ from: "human", value: `<image>\n${q}` }, { from: "gpt", value: a }],
    kind,
  };
}

function unique(scene: Scene, o: SceneObject, keys: (keyof SceneObject)[]): boolean {
  return scene.objects.filter((p) => keys.every((k) => p[k] === o[k])).length === 1;
}

/** Shortest unambiguous noun phrase for an object when asking about its colour. */
function colorReference(scene: Scene, o: SceneObject): string {
  if (unique(scene, o, ["shape"])) return `the ${o.shape}`;
  if (unique(scene, o, ["size", "shape"])) return `the ${o.size} ${o.shape}`;
  return `the ${o.shape} at the ${o.place}`;
}

/** Shortest unambiguous noun phrase for an object when asking where it is, or null. */
function placeReference(scene: Scene, o: SceneObject): string | null {
  if (unique(scene, o, ["color", "shape"])) return `the ${o.color} ${o.shape}`;
  if (unique(scene, o, ["size", "color", "shape"])) return `the ${o.size} ${o.color} ${o.shape}`;
  return null;
}

function capitalize(text: string): string {
  return text[0].toUpperCase() + text.slice(1);
}

/**
 * All conversations of a scene: the description, then one question of each short kind. The
 * random choices (which object, yes or no) come from `rng`. A place question is skipped when no
 * object can be named unambiguously (two identical objects and nothing else).
 */
export function conversationsFor(
  scene: Scene,
  rng: Prng,
  style: AnswerStyle = "word",
): ConversationRecord[] {
  const word = style === "word";
  const n = scene.objects.length;
  const out = [record(scene, "describe", DESCRIBE_QUESTION, describeScene(scene))];
  out.push(
    record(
      scene,
      "count",
      "How many objects are there?",
      word ? `${capitalize(COUNT_WORDS[n])}.` : countSentence(n),
    ),
  );
  const c = rng.pick(scene.objects);
  const cRef = colorReference(scene, c);
  out.push(
    record(
      scene,
      "color",
      `What color is ${cRef}?`,
      word ? `${capitalize(c.color)}.` : `${capitalize(cRef)} is ${c.color}.`,
    ),
  );
  const named = scene.objects.map((o) => ({ o, ref: placeReference(scene, o) }))
    .filter((x) => x.ref !== null);
  if (named.length > 0) {
    const { o, ref } = rng.pick(named);
    out.push(
      record(
        scene,
        "place",
        `Where is ${ref}?`,
        word ? `${capitalize(o.place)}.` : `${capitalize(ref!)} is at the ${o.place}.`,
      ),
    );
  }
  let color: string, shape: string, answer: string;
  if (rng.int(2) === 0) {
    const o = rng.pick(scene.objects);
    [color, shape, answer] = [o.color, o.shape, "Yes."];
  } else {
    const absent = COLOR_NAMES.flatMap((col) => SHAPES.map((sh) => [col, sh] as const))
      .filter(([col, sh]) => !scene.objects.some((o) => o.color === col && o.shape === sh));
    [color, shape] = rng.pick(absent);
    answer = "No.";
  }
  out.push(record(scene, "presence", `Is there a ${color} ${shape}?`, answer));
  return out;
}
