/**
 * The import direction of `lib/` (README, "Architecture"), checked over `deno info --json`.
 *
 * Every area of `lib/` (a folder; the top-level files together are the foundation) may import
 * the areas {@link DIRECTION} lists for it and, transitively, what those may import; nothing
 * else.
 * Besides: `lib/` imports nothing from the rest of the repository (deno.json aside), only
 * tests import `tests/`, and assertions come from `@std/assert` (one style; `node:assert` only
 * behind its stand-in).
 *
 * Run: `deno task check:imports` (CI runs it; `tests/structure/imports_test.ts` too). Exit
 * status 1 and one line per import against the direction, naming file, line and the fix.
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/**
 * Each area of `lib/` and the areas it may import directly; what those may import it may
 * import too. An area not listed here is an error, so a new folder takes its place on purpose.
 */
export const DIRECTION: Readonly<Record<string, readonly string[]>> = {
  // The top-level files of lib/ (errors, limits, random, provenance, bundled, …): small
  // utilities that import only each other.
  foundation: [],
  // The model: files → graphs → sessions.
  checkpoint: ["foundation"],
  graph: ["checkpoint"],
  runtime: ["graph"],
  // Data sets (images are encoded by checkpoint's image code).
  data: ["checkpoint"],
  // The method, on plain arrays: no model, no runtime.
  importance: ["foundation"],
  prefix: ["importance"],
  // Where the method meets the runtime: cache policies.
  recipes: ["runtime", "prefix"],
  // Studies built on recipes and models; none imports another.
  analysis: ["recipes", "data"],
  calibration: ["recipes", "data"],
  metrics: ["recipes", "data"],
  // Figures of the studies' results, the experiments that make them, the commands.
  plot: ["analysis", "calibration", "metrics"],
  experiments: ["plot"],
  cli: ["experiments"],
};

/** An import allowed against the direction for now, with the reason it still exists. */
export interface Exception {
  /** Importing file, repository-relative. */
  from: string;
  /** Imported area (`lib/<area>`) or repository-relative path prefix. */
  to: string;
  /** Why it is still there and what removes it. */
  reason: string;
}

/** Imports against the direction that are still in the code; each says what removes it. */
export const EXCEPTIONS: readonly Exception[] = [];

/** One import of one file. */
export interface Import {
  /** Importing file, repository-relative (e.g. `lib/prefix/search.ts`). */
  from: string;
  /** Imported file, repository-relative, or the specifier when outside the repository. */
  to: string;
  /** 1-based line of the import. */
  line: number;
}

/** An import against the direction. */
export interface Violation {
  /** The offending import. */
  import: Import;
  /** What is wrong and how to fix it. */
  message: string;
}

/** What {@link checkImports} finds. */
export interface ImportCheck {
  /** Imports against the direction. */
  violations: Violation[];
  /** Exceptions that no import needs any more (remove them). */
  unusedExceptions: Exception[];
}

/** The subset of `deno info --json` this check reads. */
export interface DenoInfo {
  /** Every module of the graph. */
  modules: {
    specifier: string;
    dependencies?: {
      specifier: string;
      code?: { specifier?: string; span?: { start: { line: number } } };
      type?: { specifier?: string; span?: { start: { line: number } } };
    }[];
  }[];
}

/**
 * The area of a repository-relative path: `lib/<dir>/…` → `<dir>`, a top-level file of `lib/`
 * → `"foundation"`, anything outside `lib/` → null.
 */
export function areaOf(path: string): string | null {
  if (!path.startsWith("lib/")) return null;
  const rest = path.slice(4);
  const slash = rest.indexOf("/");
  return slash < 0 ? "foundation" : rest.slice(0, slash);
}

/**
 * Every area with the set of areas it may import (the transitive closure of `direction`).
 *
 * @throws Error on an area listed as a dependency but not defined, or on a cycle
 */
export function allowedAreas(
  direction: Readonly<Record<string, readonly string[]>>,
): Map<string, Set<string>> {
  const closed = new Map<string, Set<string>>();
  const visit = (area: string, path: string[]): Set<string> => {
    const done = closed.get(area);
    if (done) return done;
    if (path.includes(area)) {
      throw new Error(`import direction has a cycle: ${[...path, area].join(" → ")}`);
    }
    const deps = direction[area];
    if (!deps) throw new Error(`import direction: "${path.at(-1)}" lists unknown area "${area}"`);
    const all = new Set<string>();
    for (const d of deps) {
      all.add(d);
      for (const t of visit(d, [...path, area])) all.add(t);
    }
    closed.set(area, all);
    return all;
  };
  for (const area of Object.keys(direction)) visit(area, []);
  return closed;
}

/** The repository-internal imports (and their lines) of every module under `root`. */
export function importsOf(info: DenoInfo, root: string): Import[] {
  const rootUrl = pathToFileURL(root.endsWith("/") ? root : root + "/").href;
  const rel = (specifier: string) =>
    specifier.startsWith(rootUrl) ? specifier.slice(rootUrl.length) : specifier;
  const out: Import[] = [];
  for (const m of info.modules) {
    if (!m.specifier.startsWith(rootUrl)) continue;
    const from = rel(m.specifier);
    for (const dep of m.dependencies ?? []) {
      for (const target of [dep.code, dep.type]) {
        if (!target?.specifier) continue;
        out.push({ from, to: rel(target.specifier), line: (target.span?.start.line ?? 0) + 1 });
      }
    }
  }
  return out;
}

const README_HINT = "see the README's Architecture section and DIRECTION in .ci/check_imports.ts";

function exceptionCovers(e: Exception, imp: Import): boolean {
  return e.from === imp.from && (imp.to === e.to || imp.to.startsWith(e.to + "/") ||
    imp.to.startsWith(e.to + "."));
}

/** Checks imports against the direction; `exceptions` are allowed (and reported when unused). */
export function checkImports(
  imports: readonly Import[],
  direction: Readonly<Record<string, readonly string[]>> = DIRECTION,
  exceptions: readonly Exception[] = EXCEPTIONS,
): ImportCheck {
  const allowed = allowedAreas(direction);
  const used = new Set<Exception>();
  const violations: Violation[] = [];
  const seen = new Set<string>();
  for (const imp of imports) {
    const key = `${imp.from}\0${imp.to}\0${imp.line}`;
    if (seen.has(key)) continue; // a file imported for code and types
    seen.add(key);
    const message = problemOf(imp, allowed);
    if (message === null) continue;
    const exception = exceptions.find((e) => exceptionCovers(e, imp));
    if (exception) {
      used.add(exception);
      continue;
    }
    violations.push({ import: imp, message });
  }
  return { violations, unusedExceptions: exceptions.filter((e) => !used.has(e)) };
}

/** The one module that may use `node:assert`: the `@std/assert` stand-in. */
const ASSERT_STAND_IN = "tests/_std_assert.ts";

function problemOf(imp: Import, allowed: Map<string, Set<string>>): string | null {
  if (/^node:assert(\/|$)/.test(imp.to) && imp.from !== ASSERT_STAND_IN) {
    return `tests assert in one style: import assertEquals, assert, assertThrows, … from ` +
      `"@std/assert" (${ASSERT_STAND_IN}), not from ${imp.to}`;
  }
  const inRepo = !/^[a-z][a-z0-9+.-]*:/i.test(imp.to);
  if (!inRepo) return null;
  const fromArea = areaOf(imp.from);
  const toArea = areaOf(imp.to);
  if (imp.to.startsWith("tests/") && !imp.from.startsWith("tests/")) {
    return `only tests import tests/; move what ${imp.from} needs from ${imp.to} into lib/ ` +
      `or next to it`;
  }
  if (fromArea === null) return null;
  if (toArea === null) {
    if (imp.to === "deno.json") return null;
    return `lib/ imports nothing from the rest of the repository (${imp.to}); they build on ` +
      `lib/, not the other way round`;
  }
  for (const area of [fromArea, toArea]) {
    if (!allowed.has(area)) {
      return `lib/${area} has no place in the import direction; add it to DIRECTION and to ` +
        `the README's Architecture section`;
    }
  }
  if (fromArea === toArea || allowed.get(fromArea)!.has(toArea)) return null;
  const below = [...allowed.get(fromArea)!].sort().join(", ") || "nothing";
  return `lib/${fromArea} may not import lib/${toArea} (it may import: ${below}); move the ` +
    `code that needs both above them both, or depend the other way round (${README_HINT})`;
}

/** Source files of the repository at `root` that the check covers. */
export async function sourceFiles(root: string): Promise<string[]> {
  const files: string[] = ["mod.ts"];
  // Generated training data and the checkpoint hold no code; node_modules is not ours.
  const skip = new Set(["experiments/tiny-llava/data", "experiments/tiny-llava/checkpoint"]);
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(join(root, dir))) {
      const path = `${dir}/${e.name}`;
      const ours = !skip.has(path) && e.name !== "node_modules" && !e.name.startsWith(".");
      if (e.isDirectory && ours) await walk(path);
      else if (e.isFile && /\.(ts|tsx|js|mjs)$/.test(e.name)) files.push(path);
    }
  };
  for (const dir of ["lib", "tests", "examples", "experiments", "notebooks"]) {
    try {
      await walk(dir);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return files.sort();
}

/** Runs `deno info --json` over `files` of the repository at `root` (one graph for all). */
export async function denoInfo(root: string, files: readonly string[]): Promise<DenoInfo> {
  const dir = await Deno.makeTempDir({ prefix: "check_imports_" });
  try {
    const entry = join(dir, "all.ts");
    await Deno.writeTextFile(
      entry,
      files.map((f) => `import ${JSON.stringify(pathToFileURL(join(root, f)).href)};\n`).join(""),
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", "--config", join(root, "deno.json"), entry],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`deno info failed:\n${new TextDecoder().decode(out.stderr)}`);
    }
    return JSON.parse(new TextDecoder().decode(out.stdout));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Checks the repository at `root`: its imports against {@link DIRECTION}. */
export async function checkRepository(root: string): Promise<ImportCheck> {
  const info = await denoInfo(root, await sourceFiles(root));
  return checkImports(importsOf(info, root));
}

/** The report printed by the command: one line per violation, then a summary. */
export function formatReport(check: ImportCheck): string {
  const lines = check.violations.map((v) =>
    `${v.import.from}:${v.import.line}: imports ${v.import.to}: ${v.message}`
  );
  for (const e of check.unusedExceptions) {
    lines.push(
      `note: exception ${e.from} → ${e.to} is no longer needed; remove it from EXCEPTIONS`,
    );
  }
  lines.push(
    check.violations.length === 0
      ? "import direction: ok"
      : `import direction: ${check.violations.length} import(s) against it`,
  );
  return lines.join("\n");
}

if (import.meta.main) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const check = await checkRepository(root);
  console.log(formatReport(check));
  if (check.violations.length > 0) Deno.exit(1);
}
