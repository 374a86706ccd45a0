/**
 * Paper references that several method files cite.
 *
 * @module
 */

/** PrefixKV's paper and code. */
export const PREFIXKV_REF = "Wang et al., PrefixKV, arXiv 2412.03409 (NeurIPS 2025); " +
  "github.com/THU-MIG/PrefixKV";

/** Elastic Cache's paper and code. */
export const ELASTIC_REF = "Liu et al., Efficient Inference of Vision Instruction-Following " +
  "Models with Elastic Cache, arXiv 2407.18121 (ECCV 2024); github.com/liuzuyan/ElasticCache";
