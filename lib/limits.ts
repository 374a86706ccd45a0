/**
 * Size limits on inputs that would otherwise exhaust the machine (threads, curve samples,
 * scenes, rendered prompt text), with one message shape: the name, the value, the limit, why,
 * and what to do instead. The CLI checks its flags against the same limits through
 * `numberFlag`'s `max` rule; library entry points call {@link checkLimit}.
 *
 * @example
 * ```ts
 * import { checkLimit, LIMITS } from "./limits.ts";
 * checkLimit("points", 101, LIMITS.curvePoints); // fine
 * try {
 *   checkLimit("points", 1e8, LIMITS.curvePoints);
 * } catch (e) {
 *   console.log((e as Error).message); // points: 100000000 is over the limit of 10001 (…)
 * }
 * ```
 *
 * @module
 */
import { InputError } from "./errors.ts";

/** One limit: the largest value and why it is there. */
export interface Limit {
  /** Largest allowed value. */
  readonly max: number;
  /** Why, and what to do instead (ends the message). */
  readonly why: string;
}

/** Logical cores of this machine (at least 1). */
export function coreCount(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

/** The toolkit's limits. */
export const LIMITS = {
  /** onnxruntime intra-op threads per session: 4 per core (more only adds contention). */
  get threads(): Limit {
    const cores = coreCount();
    return {
      max: 4 * cores,
      why: `this machine has ${cores} logical cores; use at most one thread per core`,
    };
  },
  /** Samples of each analysis curve in [0, 1]. */
  curvePoints: {
    max: 10_001,
    why: "every layer's curves are sampled at that many points; 101–1001 resolve any plot",
  } as Limit,
  /** Scenes in one split written by `scenes` (about 12 KiB of raw pixels and a PNG each). */
  sceneCount: {
    max: 1_000_000,
    why: "each scene writes a PNG and 12 KiB of raw pixels; write several splits instead",
  } as Limit,
  /** Characters of prompt text a chat template may render. */
  promptChars: {
    max: 1_000_000,
    why: "a longer prompt is far beyond any model's context; the chat template probably loops",
  } as Limit,
} as const;

/** The message for `value` over `limit`, naming `name` (a flag such as `--points`, or a field). */
export function limitMessage(name: string, value: number | string, limit: Limit): string {
  return `${name}: ${value} is over the limit of ${limit.max} (${limit.why})`;
}

/** Throws an {@link InputError} ({@link limitMessage}) when `value` exceeds `limit.max`. */
export function checkLimit(name: string, value: number, limit: Limit): void {
  if (value > limit.max) throw new InputError(limitMessage(name, value, limit));
}
