/**
 * Evaluation data sets in the layouts the reference uses: LLaVA-Description (`detail_1k.json`
 * and a COCO image folder) and MM-Vet (`mm-vet.json` and its images), validated entry by entry.
 * The generated scenes of the bundled model are `lib/data/scenes/`.
 *
 * @module
 */
export { type VqaLoadOptions, type VqaLoadResult, type VqaSample } from "./vqa_sample.ts";
export { loadLlavaDescription, parseLlavaDescription } from "./llava_description.ts";
export { loadMmVet, parseMmVet } from "./mm_vet.ts";
