/**
 * Offline calibration on a model: prefill each calibration prompt with attention importance,
 * run PrefixKV's search, and average the per-layer ratios into a reference-format config
 * (resumable, with progress and provenance).
 *
 * @module
 */
export {
  calibrateModel,
  type CalibrateModelOptions,
  type CalibrationPaths,
  calibrationPaths,
  type CalibrationProgress,
  type CalibrationResumeHeader,
  type CalibrationSource,
  writeCalibration,
} from "./calibrate_model.ts";
