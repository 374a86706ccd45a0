/**
 * A description score that an empty answer cannot win: the F1 of the objects a description
 * states against the scene's true objects. "Descriptions with no invented object" rewards
 * saying nothing (an empty answer invents nothing); object F1 needs both precision (stated
 * objects that are right) and recall (true objects that are stated), so silence scores 0.
 *
 * An object counts as right when its size, colour, shape and place all match a true object
 * (each true object matched once), as the scene parser scores it.
 *
 * @example
 * ```ts
 * import { objectF1 } from "./description_score.ts";
 * import { generateScene } from "../data/scenes/generator.ts";
 * const scene = generateScene(3, "test", 0);
 * console.log(objectF1(scene, "").f1); // 0
 * ```
 *
 * @module
 */
import type { Scene } from "../data/scenes/generator.ts";
import { type DescriptionScore, scoreDescription } from "../data/scenes/parser.ts";

/** Object precision, recall and F1 of one description. */
export interface ObjectF1 {
  /** Right objects over stated objects (0 when none is stated). */
  precision: number;
  /** Right objects over true objects. */
  recall: number;
  /** Harmonic mean of precision and recall: `2·right / (stated + true)` (0 when both are 0). */
  f1: number;
  /** Objects stated with all four attributes right. */
  right: number;
  /** Objects the description states (right or not). */
  stated: number;
  /** Objects in the scene. */
  truth: number;
}

/** Object F1 from a parser score (stated = right + invented). */
export function objectF1FromScore(score: DescriptionScore): ObjectF1 {
  const right = score.objectsRight;
  const stated = right + score.invented;
  const truth = score.objectsTotal;
  return {
    precision: stated === 0 ? 0 : right / stated,
    recall: truth === 0 ? 0 : right / truth,
    f1: stated + truth === 0 ? 0 : (2 * right) / (stated + truth),
    right,
    stated,
    truth,
  };
}

/** Object F1 of `text` as a description of `scene`. */
export function objectF1(scene: Scene, text: string): ObjectF1 {
  return objectF1FromScore(scoreDescription(scene, text));
}

/** Mean per-description F1 (macro average; 0 for no descriptions). */
export function meanObjectF1(scores: readonly ObjectF1[]): number {
  return scores.length === 0 ? 0 : scores.reduce((s, x) => s + x.f1, 0) / scores.length;
}
