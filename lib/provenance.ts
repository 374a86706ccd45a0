/**
 * Provenance of a result file: which tool, version and commit produced it, when, on which
 * runtime, with which arguments. Every command that writes results embeds one, so a number can
 * be traced back to the code and inputs that made it.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import denoConfig from "../deno.json" with { type: "json" };
import "./ort_telemetry.ts"; // before the dynamic import of onnxruntime-node below

/** Where a result came from. Plain JSON. */
export interface Provenance {
  /** Package name from deno.json. */
  tool: string;
  /** Package version from deno.json. */
  version: string;
  /** `git rev-parse HEAD` of the toolkit's checkout, or null outside a repository. */
  commit: string | null;
  /** ISO 8601 time the record was made. */
  date: string;
  /** Deno version (`Deno.version.deno`). */
  deno: string;
  /** V8 version (`Deno.version.v8`). */
  v8: string;
  /** onnxruntime-node's version, or null when it cannot be loaded. */
  onnxruntime: string | null;
  /** `os-arch`, e.g. `linux-x86_64`. */
  platform: string;
  /** The arguments of the run (as given by the caller). */
  args: unknown;
}

/** The toolkit's own directory: the commit is the code's, wherever the command runs. */
const TOOL_DIR = fileURLToPath(new URL("..", import.meta.url));

/**
 * The git commit of the toolkit's checkout (or of `dir`), or null when git or the repository
 * is unavailable.
 */
export async function gitCommit(dir: string = TOOL_DIR): Promise<string | null> {
  try {
    const out = await new Deno.Command("git", {
      args: ["rev-parse", "HEAD"],
      cwd: dir,
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}

async function onnxruntimeVersion(): Promise<string | null> {
  try {
    const ort = await import("onnxruntime-node");
    const versions = ort.env.versions as Record<string, string | undefined>;
    return versions.node ?? versions.common ?? null;
  } catch {
    // Without the native package (e.g. a docs build) provenance still works.
    return null;
  }
}

/** A provenance record for a run with `args` (any JSON value; `null` when omitted). */
export async function provenance(args: unknown = null): Promise<Provenance> {
  const [commit, onnxruntime] = await Promise.all([gitCommit(), onnxruntimeVersion()]);
  return {
    tool: denoConfig.name,
    version: denoConfig.version,
    commit,
    date: new Date().toISOString(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    onnxruntime,
    platform: `${Deno.build.os}-${Deno.build.arch}`,
    args,
  };
}
