/**
 * onnxruntime's telemetry is off wherever the toolkit loads it: the CLI and a library script
 * importing `mod.ts` leave no `~/.cache/Microsoft/DeveloperTools/.onnxruntime/` under a fresh
 * HOME and no `/tmp/mat-debug-<pid>.log`. A control run that imports onnxruntime-node without
 * the toolkit shows the files do appear otherwise (so the check can fail).
 */
import { assert, assertEquals } from "@std/assert";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { writeTinyLlama } from "../fixtures/tiny_checkpoint.ts";
import { withTempDir } from "../cli/_cli.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const CONFIG = join(ROOT, "deno.json");

/**
 * Runs `deno run -A <args>` with HOME set to `home`; returns the child's pid, its start time and
 * stderr.
 */
async function runWithHome(
  home: string,
  args: string[],
): Promise<{ pid: number; started: number; err: string }> {
  const started = Date.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", CONFIG, ...args],
    cwd: home,
    // A clean environment (this test process may have ORT_DISABLE_TELEMETRY set already) with
    // a fresh home; Deno's own module cache stays where it is.
    clearEnv: true,
    env: {
      HOME: home,
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      NO_COLOR: "1",
      DENO_DIR: Deno.env.get("DENO_DIR") ?? join(Deno.env.get("HOME")!, ".cache", "deno"),
    },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const out = await child.output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  return { pid: child.pid, started, err: new TextDecoder().decode(out.stderr) };
}

/**
 * What telemetry left behind for a run. A `/tmp/mat-debug-<pid>.log` counts only when written
 * since the run started: an older one belongs to an earlier process that had the same pid.
 */
function traces(home: string, run: { pid: number; started: number }): string[] {
  const debugLog = `/tmp/mat-debug-${run.pid}.log`;
  const paths = [join(home, ".cache", "Microsoft", "DeveloperTools", ".onnxruntime"), debugLog];
  const found = paths.filter((p) =>
    existsSync(p) &&
    (p !== debugLog || (Deno.statSync(p).mtime?.getTime() ?? Infinity) >= run.started - 1000)
  );
  for (const p of found) if (p.startsWith("/tmp/mat-debug-")) Deno.removeSync(p);
  return found;
}

Deno.test("faults: onnxruntime telemetry writes nothing from the CLI or the library", () =>
  withTempDir("faults_telemetry_", async (dir) => {
    const ck = await writeTinyLlama(join(dir, "tinyllama"), { layers: 1, seed: 3 });
    const cli = await runWithHome(dir, [
      join(ROOT, "lib/cli/main.ts"),
      "generate",
      "--model",
      ck.dir,
      "--input-ids",
      "1,5,6",
      "--max-new-tokens",
      "1",
      "--cache-dir",
      join(dir, "g"),
    ]);
    const cliLeft = traces(dir, cli);
    assert(cliLeft.length === 0, `CLI left ${cliLeft.join(", ")}`);

    const script = join(dir, "lib.ts");
    await Deno.writeTextFile(
      script,
      `import { loadModel } from ${JSON.stringify(join(ROOT, "mod.ts"))};\n` +
        `const m = await loadModel(${JSON.stringify(ck.dir)}, { cacheDir: false });\n` +
        `await m.prefill(m.embedTokens([1, 5]));\nawait m.close();\n`,
    );
    const lib = await runWithHome(dir, [script]);
    const left = traces(dir, lib);
    assert(left.length === 0, `library left ${left.join(", ")}`);

    // Control: onnxruntime-node alone, without the toolkit's module, does write them.
    const bare = join(dir, "bare.ts");
    await Deno.writeTextFile(
      bare,
      `import * as ort from "onnxruntime-node";\n` +
        `const s = await ort.InferenceSession.create(${JSON.stringify(join(dir, "g"))} + "/" +\n` +
        `  [...Deno.readDirSync(${
          JSON.stringify(join(dir, "g"))
        })].find((e) => e.isDirectory)!.name + "/model.onnx");\n` +
        `await s.release();\n`,
    );
    const control = await runWithHome(dir, [bare]);
    assert(traces(dir, control).length > 0, "the control run should show telemetry files");
  }));

Deno.test("faults: every file that imports onnxruntime-node imports the telemetry switch first", () => {
  const late: string[] = [];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(join(ROOT, dir))) {
      const path = join(dir, e.name);
      if (e.isDirectory && !["node_modules", ".cache", "data", "checkpoint"].includes(e.name)) {
        walk(path);
      } else if (e.isFile && path.endsWith(".ts") && !path.endsWith("telemetry_test.ts")) {
        const text = Deno.readTextFileSync(join(ROOT, path));
        const ort = text.search(/from "onnxruntime-node"|import\("onnxruntime-node"\)/);
        const telemetry = text.search(/import "[./]*(lib\/)?ort_telemetry\.ts"/);
        if (ort >= 0 && (telemetry < 0 || telemetry > ort)) late.push(path);
      }
    }
  };
  for (const dir of ["lib", "tests", "experiments", "examples", "notebooks"]) {
    if (existsSync(join(ROOT, dir))) walk(dir);
  }
  assertEquals(late, [], `import "…/ort_telemetry.ts" before onnxruntime-node in: ${late}`);
});
