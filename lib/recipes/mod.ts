/**
 * KV retention recipes behind one interface: scorer, allocation, selection and decode policy
 * composed into a cache policy. Methods are one file each (`methods/`), looked up by name from
 * a registry and built from plain data with {@link recipeFromConfig}.
 *
 * @module
 */
export {
  type Allocation,
  type AllocationInput,
  type AllocationResult,
  composeRecipe,
  type DecisionSections,
  type DecodePolicy,
  type DecodeRun,
  type DecodeStart,
  type LayerScores,
  type Recipe,
  type RecipeIdentity,
  type RecipeParts,
  recompose,
  type Scorer,
  type Selection,
  type SelectionInput,
  type SelectionPlan,
} from "./recipe.ts";
export { ComposedPolicy, type PrefillDecision } from "./composed_policy.ts";
export {
  defineMethod,
  type OptionIssue,
  type OptionSchema,
  type RecipeConfig,
  type RecipeMethod,
} from "./method.ts";
export { type JsonSchema, type RecipeOptionInfo } from "./options.ts";
export {
  createRecipe,
  listRecipes,
  recipeFromConfig,
  recipeMethod,
  recipeNames,
  recipeOptions,
  registerRecipe,
  unregisterRecipe,
} from "./registry.ts";
export {
  policyFromArgs,
  type RecipeArgs,
  recipeFromArgs,
  type ResolvedRecipe,
} from "./from_args.ts";
export { decisionSummary, type RetentionReport, retentionReport } from "./report.ts";
export {
  type Budget,
  budgetLabel,
  checkRecipeBudget,
  keptFraction,
  parseBudget,
} from "../prefix/budget.ts";
export { apportion } from "./ranking.ts";
export { noScores } from "./scorers/no_scores.ts";
export { prefillImportance } from "./scorers/prefill_importance.ts";
export { layerMeanImportance } from "./scorers/layer_mean.ts";
export {
  observationWindow,
  type ObservationWindowOptions,
  observationWindowSize,
  pool1d,
} from "./scorers/observation_window.ts";
export { keepAllAllocation } from "./allocation/keep_all.ts";
export { uniformAllocation } from "./allocation/uniform.ts";
export { pyramidAllocation, pyramidQuotas } from "./allocation/pyramid.ts";
export { maxSumAllocation } from "./allocation/max_sum.ts";
export {
  type PrefixKvDecision,
  prefixSearchAllocation,
  type PrefixSearchAllocationOptions,
} from "./allocation/prefix_search.ts";
export { configBudget, offlineConfigAllocation } from "./allocation/offline_config.ts";
export { keepAllSelection } from "./selection/keep_all.ts";
export { sinkAndRecent } from "./selection/sink_recent.ts";
export { type TopKOptions, topKSelection } from "./selection/top_k.ts";
export { prefixSelection } from "./selection/prefix.ts";
export { mergeIntoNearestAnchor, nearestAnchorAssignment } from "./selection/merge.ts";
export { noDecodeEviction } from "./decode/keep_all.ts";
export { evictOldest } from "./decode/evict_oldest.ts";
export { fixedDistance } from "./decode/fixed_distance.ts";
export { accumulatedGlobal, accumulatedLayerwise } from "./decode/accumulated.ts";
export { allowedLength } from "./decode/target.ts";
export {
  headSparsity,
  layerRatios,
  layerSparsity,
  postVisionAttention,
  postVisionStart,
  sparsityAllocation,
  type VlCacheDecision,
  vlCacheSelection,
} from "./methods/vl_cache.ts";
export {
  type AirCacheDecision,
  type AirCacheOptions,
  type AirCacheRoles,
  airCacheRoles,
  type AirCacheText,
  airCacheWeights,
  eliteImportance,
  eliteObservationWindow,
  eliteTokens,
  layerElite,
  sampleSkewness,
  strengthAndSkewness,
  strengthSkewnessAllocation,
} from "./methods/aircache.ts";
