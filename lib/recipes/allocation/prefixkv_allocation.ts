/**
 * PrefixKV's allocation as the `prefixkv*` methods configure it: an offline config when one
 * is given (a reference-format file or the ratios themselves), else the online search on each
 * prompt. The options are shared by every method that uses this allocation.
 *
 * @module
 */
import { z } from "zod";
import { InputError } from "../../errors.ts";
import { parseReferenceConfig } from "../../prefix/config.ts";
import { PREFIX_SEARCH_DEFAULTS } from "../../prefix/search.ts";
import { startSizeOption } from "../options.ts";
import type { Allocation } from "../recipe.ts";
import { offlineConfigAllocation } from "./offline_config.ts";
import { prefixSearchAllocation } from "./prefix_search.ts";

/** Options of PrefixKV's allocation (spread into a method's option object). */
export const prefixAllocationOptions = {
  startSize: startSizeOption,
  conf: z.union([z.string().min(1), z.array(z.number().min(0).max(1)).min(1)]).optional()
    .describe(
      "offline config: a reference-format file (per-layer eviction fractions) or the " +
        "fractions themselves; the budget defaults to 1 − their mean",
    ),
  online: z.boolean().default(false)
    .describe("search on every prompt (what happens anyway without conf)"),
  tolerance: z.number().positive().default(PREFIX_SEARCH_DEFAULTS.tolerance)
    .describe("online search: stop within this many entries of the target over all layers"),
  maxIterations: z.number().int().min(1).default(PREFIX_SEARCH_DEFAULTS.maxIterations)
    .describe("online search: bisection steps at most"),
};

/** Values of {@link prefixAllocationOptions} after checking. */
export interface PrefixAllocationValues {
  /** Leading positions always kept. */
  startSize: number;
  /** Offline config: file path or per-layer eviction fractions. */
  conf?: string | number[];
  /** Search on every prompt. */
  online: boolean;
  /** Online search tolerance. */
  tolerance: number;
  /** Online search iteration cap. */
  maxIterations: number;
}

function readConf(conf: string | number[]): { ratios: number[]; source: string } {
  if (typeof conf !== "string") return { ratios: conf, source: "PrefixKV config" };
  let text: string;
  try {
    text = Deno.readTextFileSync(conf);
  } catch (e) {
    throw new InputError(`${conf}: cannot read the PrefixKV config (${(e as Error).message})`);
  }
  return { ratios: parseReferenceConfig(text, conf), source: conf };
}

/** The offline-config allocation when `conf` is given, else the online search. */
export function prefixAllocation(o: PrefixAllocationValues, method: string): Allocation {
  if (o.conf !== undefined) {
    if (o.online) {
      throw new InputError(
        `recipe ${method}: give either an offline config (conf) or online, not both`,
      );
    }
    const { ratios, source } = readConf(o.conf);
    return offlineConfigAllocation(ratios, o.startSize, source);
  }
  return prefixSearchAllocation(o);
}
