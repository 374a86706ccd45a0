/**
 * PrefixKV: global prefix search, prefill selection, fixed-distance decode eviction, reference
 * configs, offline calibration and the cache policy.
 *
 * @module
 */
export * from "./budget.ts";
export * from "./search.ts";
export * from "./select.ts";
export * from "./fixed_distance.ts";
export * from "./config.ts";
export * from "./calibrate.ts";
export * from "./policy.ts";
export * from "./calibration_data.ts";
