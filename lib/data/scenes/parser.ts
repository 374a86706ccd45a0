/**
 * Turns a generated (or model-written) description back into objects, and scores it against the
 * true scene. Tolerant of word-level detokenisation ("top left ." with a space before the full
 * stop), extra spaces and letter case.
 *
 * @module
 */
import type { Scene } from "./generator.ts";
import {
  type Color,
  COLOR_NAMES,
  COUNT_WORDS,
  type Place,
  PLACES,
  type Shape,
  SHAPES,
  type Size,
  SIZES,
} from "./vocabulary.ts";

/** An object as stated in a description. */
export interface DescribedObject {
  /** Size word. */
  size: Size;
  /** Colour name. */
  color: Color;
  /** Shape word. */
  shape: Shape;
  /** Place words. */
  place: Place;
}

/** What a description says. */
export interface ParsedDescription {
  /** The stated count, or null if there is no count sentence. */
  count: number | null;
  /** Objects in the order stated. */
  objects: DescribedObject[];
  /** Sentences that matched neither pattern (normalised). */
  unparsed: string[];
}

const alt = (words: readonly string[]) => words.map((w) => w.replace(" ", "\\s+")).join("|");
const OBJECT_RE = new RegExp(
  `^an?\\s+(${alt(SIZES)})\\s+(${alt(COLOR_NAMES)})\\s+(${alt(SHAPES)})\\s+is\\s+at\\s+the\\s+(${
    alt(PLACES)
  })$`,
);
const COUNT_RE = new RegExp(`^there\\s+(?:is|are)\\s+(${alt(COUNT_WORDS)})\\s+objects?$`);

/** Lower-cases, collapses white space and removes white space before punctuation. */
export function normalizeText(text: string): string {
  return text.toLowerCase().replace(/\s+/g, " ").replace(/\s+([.,?!])/g, "$1").trim();
}

/** Parses a description into its stated count and objects. */
export function parseDescription(text: string): ParsedDescription {
  const sentences = normalizeText(text).split(".").map((s) => s.trim()).filter((s) => s !== "");
  const result: ParsedDescription = { count: null, objects: [], unparsed: [] };
  for (const s of sentences) {
    const m = OBJECT_RE.exec(s);
    if (m) {
      const norm = (w: string) => w.replace(/\s+/g, " ");
      result.objects.push({
        size: m[1] as Size,
        color: m[2] as Color,
        shape: m[3] as Shape,
        place: norm(m[4]) as Place,
      });
      continue;
    }
    const c = COUNT_RE.exec(s);
    if (c && result.count === null) result.count = COUNT_WORDS.indexOf(c[1] as never);
    else result.unparsed.push(s);
  }
  return result;
}

/** How well a description matches its scene. */
export interface DescriptionScore {
  /** True objects stated with all four attributes right. */
  objectsRight: number;
  /** True objects in the scene. */
  objectsTotal: number;
  /** Stated objects that match no true object exactly (invented or wrong). */
  invented: number;
  /** Whether the stated count equals the true count. */
  countRight: boolean;
  /** Everything right, nothing extra, nothing unparsed. */
  exact: boolean;
}

/** Scores a description against the scene it should describe (each true object matched once). */
export function scoreDescription(scene: Scene, text: string): DescriptionScore {
  const parsed = parseDescription(text);
  const unmatched = scene.objects.slice();
  let invented = 0;
  for (const d of parsed.objects) {
    const i = unmatched.findIndex((o) =>
      o.size === d.size && o.color === d.color && o.shape === d.shape && o.place === d.place
    );
    if (i >= 0) unmatched.splice(i, 1);
    else invented++;
  }
  const objectsTotal = scene.objects.length;
  const objectsRight = objectsTotal - unmatched.length;
  const countRight = parsed.count === objectsTotal;
  return {
    objectsRight,
    objectsTotal,
    invented,
    countRight,
    exact: objectsRight === objectsTotal && invented === 0 && countRight &&
      parsed.unparsed.length === 0,
  };
}

/** Whether a short answer equals the expected one, ignoring case and spacing before punctuation. */
export function answersMatch(expected: string, got: string): boolean {
  return normalizeText(expected) === normalizeText(got);
}
