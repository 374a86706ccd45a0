/**
 * KV retention recipes behind one interface: scorer, allocation, selection and decode policy
 * composed into a cache policy, looked up by name from a registry.
 *
 * @module
 */
export * from "./budget.ts";
export * from "./recipe.ts";
export * from "./composed_policy.ts";
export * from "./definition.ts";
export * from "./registry.ts";
export * from "./from_args.ts";
export { BUILTIN_RECIPES } from "./builtin.ts";
export { apportion, argMin, topK } from "./ranking.ts";
export { noScores } from "./scorers/no_scores.ts";
export { prefillImportance } from "./scorers/prefill_importance.ts";
export { layerMeanImportance } from "./scorers/layer_mean.ts";
export * from "./scorers/observation_window.ts";
export { keepAllAllocation } from "./allocation/keep_all.ts";
export { uniformAllocation } from "./allocation/uniform.ts";
export { pyramidAllocation, pyramidQuotas, targetTotal } from "./allocation/pyramid.ts";
export { maxSumAllocation } from "./allocation/max_sum.ts";
export * from "./allocation/prefix_search.ts";
export * from "./allocation/offline_config.ts";
export { keepAllSelection } from "./selection/keep_all.ts";
export { sinkAndRecent } from "./selection/sink_recent.ts";
export * from "./selection/top_k.ts";
export { prefixSelection, sinkAndLast } from "./selection/prefix.ts";
export { mergeIntoNearestAnchor, nearestAnchorAssignment } from "./selection/merge.ts";
export { noDecodeEviction } from "./decode/keep_all.ts";
export { evictOldest } from "./decode/evict_oldest.ts";
export { fixedDistance } from "./decode/fixed_distance.ts";
export { accumulatedGlobal, accumulatedLayerwise, recentHalf } from "./decode/accumulated.ts";
export { allowedLength } from "./decode/target.ts";
export * from "./report.ts";
