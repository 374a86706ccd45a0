/**
 * The built-in methods, one file each, in listing order. Adding a method means adding its file
 * and one line here; the registry, the CLI's flags and help, `recipes`, and the shared test
 * matrix pick it up from there.
 *
 * @module
 */
import type { RecipeMethod } from "../method.ts";
import { airCache } from "./aircache.ts";
import { elastic } from "./elastic.ts";
import { full } from "./full.ts";
import { h2o } from "./h2o.ts";
import { h2oLayerwise } from "./h2o_layerwise.ts";
import { local } from "./local.ts";
import { prefixkv } from "./prefixkv.ts";
import { prefixkvMaxsum } from "./prefixkv_maxsum.ts";
import { prefixkvMerge } from "./prefixkv_merge.ts";
import { pyramid } from "./pyramid.ts";
import { snapkv } from "./snapkv.ts";
import { uniform } from "./uniform.ts";
import { vlCache } from "./vl_cache.ts";

/** Every built-in method, in listing order. */
export const BUILTIN_METHODS: readonly RecipeMethod[] = [
  full,
  local,
  h2o,
  h2oLayerwise,
  elastic,
  uniform,
  pyramid,
  snapkv,
  prefixkv,
  prefixkvMaxsum,
  prefixkvMerge,
  vlCache,
  airCache,
];
