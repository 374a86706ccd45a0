/**
 * The decode-time budget shared by every evicting decode policy. A layer that kept K_l of N
 * prompt entries may hold ⌈T·K_l/N⌉ entries once T tokens have been seen: the reference rule
 * "evict while int(len − T·(1 − R'_l)) > 0" with R'_l = 1 − K_l/N (paper.md §1.7), evaluated in
 * integers so that no float rounding decides an eviction.
 *
 * @module
 */

/** Entries a layer that kept `kept` of `promptLength` may hold after `tokensSeen` tokens. */
export function allowedLength(kept: number, promptLength: number, tokensSeen: number): number {
  return Math.floor((tokensSeen * kept + promptLength - 1) / promptLength);
}
