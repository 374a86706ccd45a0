/**
 * Test helper: the largest absolute difference between two equally long arrays.
 *
 * @module
 */

/** Max |a[i] − b[i]|; throws when the lengths differ (so a shape bug cannot pass). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (Number.isNaN(d)) return NaN;
    if (d > m) m = d;
  }
  return m;
}
