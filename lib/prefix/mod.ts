/**
 * PrefixKV: global prefix search, prefill selection, fixed-distance decode eviction, reference
 * configs and offline calibration (the cache policy is the `prefixkv` recipe).
 *
 * @module
 */
export { budgetOfEvictRatio, evictRatioOf } from "./budget.ts";
export { prefixSearch, type PrefixSearchOptions, type PrefixSearchResult } from "./search.ts";
export { selectKept } from "./select.ts";
export { DEFAULT_DISTANCE, type EvictableCache, FixedDistanceEviction } from "./fixed_distance.ts";
export {
  evictCountsFromRatios,
  formatReferenceConfig,
  parseReferenceConfig,
  readReferenceConfig,
  referenceConfigName,
} from "./config.ts";
export {
  calibrate,
  type CalibrateOptions,
  type CalibrationProvenance,
  type CalibrationResult,
  type CalibrationSample,
  type CalibrationSampleResult,
  saveCalibration,
} from "./calibrate.ts";
export {
  type CalibrationDataOptions,
  type CalibrationPrompt,
  chooseSamples,
  parseCalibrationData,
  readCalibrationData,
} from "./calibration_data.ts";
