/**
 * The results folder of a run and what makes it resumable:
 *
 * - `run.json`: provenance (commit, arguments, versions, machine), the run's identity (model,
 *   data hashes, decoding settings, seeds), and the cells of the last invocation;
 * - `reference.json`, `calibration.json`, `configs/`: the full-cache reference and the
 *   calibrated offline configs;
 * - `cells/<key>.json`: one file per finished cell, written atomically (temporary file, then
 *   rename), so a killed run loses at most the cell in progress.
 *
 * A rerun with the same identity skips every finished cell; a folder made with another
 * identity is refused (never overwritten).
 *
 * @module
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { InputError, parseJsonInput } from "../../lib/errors.ts";

/** Sub-folder of the finished cells. */
export const CELLS_DIR = "cells";

/** Writes `value` as JSON to `path` atomically (a crash never leaves a half-written file). */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}`;
  await Deno.writeTextFile(tmp, JSON.stringify(value, null, 1) + "\n");
  await Deno.rename(tmp, path);
}

/** Reads a JSON file written by the runner, naming it in errors. */
export function readJson<T>(path: string): T {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw new InputError(`${path}: cannot read (${(e as Error).message})`);
  }
  return parseJsonInput(text, path) as T;
}

/**
 * Creates `out` (and `cells/`) and proves it writable by writing and removing a probe file,
 * before any work starts.
 *
 * @throws InputError naming the folder and the fix
 */
export async function prepareOutDir(out: string): Promise<void> {
  try {
    await Deno.mkdir(join(out, CELLS_DIR), { recursive: true });
    const probe = join(out, `.write-probe-${Deno.pid}`);
    await Deno.writeTextFile(probe, "");
    await Deno.remove(probe);
  } catch (e) {
    throw new InputError(
      `--out ${out}: cannot write results there (${
        (e as Error).message
      }); choose a writable folder`,
    );
  }
}

/** Differences between two JSON values, as `path: a ≠ b` lines (at most `limit`). */
export function jsonDifferences(a: unknown, b: unknown, path = "", limit = 5): string[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b as object)])];
    return keys.flatMap((k) =>
      jsonDifferences(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        path ? `${path}.${k}` : k,
        limit,
      )
    ).slice(0, limit);
  }
  const show = (v: unknown) => JSON.stringify(v)?.slice(0, 80) ?? "absent";
  return [`${path || "value"}: ${show(a)} ≠ ${show(b)}`];
}

/**
 * Checks that `out` holds nothing made with another identity; returns true when it already
 * holds this run's files (a resume).
 *
 * @throws InputError listing the differences
 */
export function checkResume(out: string, identity: unknown): boolean {
  const path = join(out, "run.json");
  if (!existsSync(path)) {
    const stray = existsSync(join(out, CELLS_DIR)) &&
      [...Deno.readDirSync(join(out, CELLS_DIR))].some((e) => e.name.endsWith(".json"));
    if (stray) {
      throw new InputError(
        `--out ${out} holds cell results but no run.json; use an empty folder or the original one`,
      );
    }
    return false;
  }
  const previous = readJson<{ identity?: unknown }>(path).identity;
  const diff = jsonDifferences(previous, identity);
  if (diff.length) {
    throw new InputError(
      `--out ${out} holds results of another run (${diff.join("; ")}); give another --out ` +
        `(nothing there was changed)`,
    );
  }
  return true;
}

/** Path of a cell's file. */
export function cellPath(out: string, key: string): string {
  return join(out, CELLS_DIR, `${key}.json`);
}

/** A short stable hash of a JSON value (for run ids). */
export async function shortHash(value: unknown): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(JSON.stringify(value)),
  );
  return Array.from(new Uint8Array(digest).slice(0, 4), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}
