/**
 * PrefixKV: global prefix search, prefill selection, fixed-distance decode eviction, reference
 * configs and offline calibration (the cache policy is the `prefixkv` recipe).
 *
 * @module
 */
export * from "./budget.ts";
export * from "./search.ts";
export * from "./select.ts";
export * from "./fixed_distance.ts";
export * from "./config.ts";
export * from "./calibrate.ts";
export * from "./calibration_data.ts";
