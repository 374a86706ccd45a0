/**
 * A local stand-in for `jsr:@std/assert`, mapped to the `@std/assert` specifier in deno.json.
 *
 * JSR is not reachable from the machines this project is built and tested on (only the npm
 * registry is), so the few assertions the tests use are implemented here over `node:assert`,
 * with `@std/assert`'s names and argument order. Swapping the import-map entry back to
 * `jsr:@std/assert` needs no change in any test.
 *
 * @module
 */
import nodeAssert from "node:assert/strict";

/** An assertion failed. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

function failWith(msg: string | undefined, detail: string): never {
  throw new AssertionError(msg ? `${msg}: ${detail}` : detail);
}

/** Asserts that `expr` is truthy. */
export function assert(expr: unknown, msg = "Expected expression to be truthy"): asserts expr {
  if (!expr) throw new AssertionError(msg);
}

/** Asserts that `actual` is neither `null` nor `undefined`. */
export function assertExists<T>(actual: T, msg?: string): asserts actual is NonNullable<T> {
  if (actual === null || actual === undefined) failWith(msg, `expected a value, got ${actual}`);
}

/** Deep structural equality (typed arrays compared element-wise). */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  try {
    nodeAssert.deepStrictEqual(actual, expected);
  } catch (e) {
    failWith(msg, (e as Error).message);
  }
}

/** Deep structural inequality. */
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  try {
    nodeAssert.notDeepStrictEqual(actual, expected);
  } catch (e) {
    failWith(msg, (e as Error).message);
  }
}

/** `Object.is` equality. */
export function assertStrictEquals<T>(
  actual: unknown,
  expected: T,
  msg?: string,
): asserts actual is T {
  if (!Object.is(actual, expected)) {
    failWith(msg, `expected ${String(expected)}, got ${String(actual)}`);
  }
}

/** `|actual − expected| ≤ tolerance` (default 1e-7, as in @std/assert). */
export function assertAlmostEquals(
  actual: number,
  expected: number,
  tolerance = 1e-7,
  msg?: string,
): void {
  if (Object.is(actual, expected)) return;
  const delta = Math.abs(expected - actual);
  if (!(delta <= tolerance)) {
    failWith(msg, `expected ${actual} to be close to ${expected}: delta ${delta} > ${tolerance}`);
  }
}

/** `actual > expected`. */
export function assertGreater<T>(actual: T, expected: T, msg?: string): void {
  if (!(actual > expected)) failWith(msg, `expected ${actual} > ${expected}`);
}

/** `actual ≥ expected`. */
export function assertGreaterOrEqual<T>(actual: T, expected: T, msg?: string): void {
  if (!(actual >= expected)) failWith(msg, `expected ${actual} >= ${expected}`);
}

/** `actual < expected`. */
export function assertLess<T>(actual: T, expected: T, msg?: string): void {
  if (!(actual < expected)) failWith(msg, `expected ${actual} < ${expected}`);
}

/** `actual ≤ expected`. */
export function assertLessOrEqual<T>(actual: T, expected: T, msg?: string): void {
  if (!(actual <= expected)) failWith(msg, `expected ${actual} <= ${expected}`);
}

/** `actual` contains `expected`. */
export function assertStringIncludes(actual: string, expected: string, msg?: string): void {
  if (!actual.includes(expected)) failWith(msg, `expected "${actual}" to include "${expected}"`);
}

/** `actual` matches `expected`. */
export function assertMatch(actual: string, expected: RegExp, msg?: string): void {
  if (!expected.test(actual)) failWith(msg, `expected "${actual}" to match ${expected}`);
}

/** Every item of `expected` occurs (deep-equal) in `actual`. */
export function assertArrayIncludes<T>(
  actual: ArrayLike<T>,
  expected: ArrayLike<T>,
  msg?: string,
): void {
  const items = Array.from(actual);
  for (const e of Array.from(expected)) {
    if (!items.some((a) => isDeepEqual(a, e))) {
      failWith(msg, `expected array to include ${String(e)}`);
    }
  }
}

/** `actual` is an instance of `type`. */
export function assertInstanceOf<T extends abstract new (...args: never[]) => unknown>(
  actual: unknown,
  type: T,
  msg?: string,
): asserts actual is InstanceType<T> {
  if (!(actual instanceof type)) failWith(msg, `expected an instance of ${type.name}`);
}

/** Fails unconditionally. */
export function fail(msg?: string): never {
  throw new AssertionError(msg ?? "Failed assertion");
}

type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;

function checkError(err: unknown, cls?: ErrorClass<Error>, includes?: string, msg?: string): void {
  if (cls && !(err instanceof cls)) {
    failWith(
      msg,
      `expected error to be ${cls.name}, got ${(err as Error)?.name}: ${(err as Error)?.message}`,
    );
  }
  if (includes !== undefined && !String((err as Error)?.message).includes(includes)) {
    failWith(
      msg,
      `expected error message to include "${includes}", got "${(err as Error)?.message}"`,
    );
  }
}

/** Asserts that `fn` throws (optionally an instance of `cls` whose message includes a string). */
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  cls?: ErrorClass<E>,
  msgIncludes?: string,
  msg?: string,
): E {
  try {
    fn();
  } catch (err) {
    checkError(err, cls, msgIncludes, msg);
    return err as E;
  }
  return failWith(msg, "expected function to throw");
}

/** Asserts that `fn` rejects (optionally an instance of `cls` whose message includes a string). */
export async function assertRejects<E extends Error = Error>(
  fn: () => PromiseLike<unknown>,
  cls?: ErrorClass<E>,
  msgIncludes?: string,
  msg?: string,
): Promise<E> {
  try {
    await fn();
  } catch (err) {
    checkError(err, cls, msgIncludes, msg);
    return err as E;
  }
  return failWith(msg, "expected promise to reject");
}

function isDeepEqual(a: unknown, b: unknown): boolean {
  try {
    nodeAssert.deepStrictEqual(a, b);
    return true;
  } catch {
    return false;
  }
}
