/**
 * Turns off onnxruntime's telemetry before its native library loads. onnxruntime-node 1.30
 * otherwise writes `~/.cache/Microsoft/DeveloperTools/.onnxruntime/` (a device id and an event
 * database), an empty `/tmp/mat-debug-<pid>.log` per process, and carries an upload address.
 * The native library reads `ORT_DISABLE_TELEMETRY` when it starts, so this module sets it and
 * must be imported before `onnxruntime-node` (`lib/runtime/session.ts` and `lib/provenance.ts` do
 * so first); every entry point (CLI, `mod.ts`, experiments, notebooks) reaches onnxruntime
 * through them.
 *
 * @example
 * ```ts
 * import "./ort_telemetry.ts"; // before any import of onnxruntime-node
 * import { TELEMETRY_VARIABLE } from "./ort_telemetry.ts";
 * console.log(Deno.env.get(TELEMETRY_VARIABLE)); // "1"
 * ```
 *
 * @module
 */

/** The environment variable onnxruntime's native library checks. */
export const TELEMETRY_VARIABLE = "ORT_DISABLE_TELEMETRY";

try {
  Deno.env.set(TELEMETRY_VARIABLE, "1");
} catch {
  // Without --allow-env the variable cannot be set from here; say how to turn telemetry off.
  console.warn(
    `prefixkv: cannot set ${TELEMETRY_VARIABLE}=1 (no --allow-env), so onnxruntime's telemetry ` +
      `stays on; run with --allow-env or set ${TELEMETRY_VARIABLE}=1 in the environment`,
  );
}
