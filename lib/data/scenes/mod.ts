/**
 * Procedural scene data set for the bundled tiny LLaVA: deterministic generator, exact
 * rasterizer, LLaVA-style conversations and a description parser for accuracy measurements.
 *
 * @module
 */
export * from "./vocabulary.ts";
export * from "./rasterizer.ts";
export * from "./generator.ts";
export * from "./conversations.ts";
export * from "./parser.ts";
export * from "./dataset.ts";
