/**
 * One check for every path a command or library call will write, made before any work starts:
 * the path (or the folder to create) must be writable, every existing part of it a folder, and
 * a file output must not be an existing folder (and a folder output not an existing file). The
 * check writes nothing that stays: it probes the nearest existing folder with a temporary file.
 *
 * @example
 * ```ts
 * import { checkOutputPath } from "./output_path.ts";
 * const dir = await Deno.makeTempDir();
 * await checkOutputPath(`${dir}/results/run1`, { kind: "folder", what: "--out" }); // fine
 * await checkOutputPath(`${dir}/results/summary.json`, { kind: "file", what: "--out" }); // fine
 * ```
 *
 * @module
 */
import { dirname, resolve } from "node:path";
import { fileError, fileProblem, InputError } from "./errors.ts";

/** What {@link checkOutputPath} checks for. */
export interface OutputPathOptions {
  /** `"file"`: a file to write (its folder may be created); `"folder"`: a folder to fill. */
  kind: "file" | "folder";
  /** How the user named the path, e.g. `"--out"` or `"--cache-dir"` (starts the message). */
  what: string;
}

/**
 * Throws an {@link InputError} naming `what`, the path and the cause when `path` cannot be
 * written as `kind`; see the module documentation.
 */
export async function checkOutputPath(path: string, opts: OutputPathOptions): Promise<void> {
  const full = resolve(path);
  const stat = await statOrNull(full, opts);
  const fail = (why: string): never => {
    throw new InputError(`${opts.what} ${path}: ${why}`);
  };
  if (stat) {
    if (opts.kind === "file" && stat.isDirectory) {
      fail("is a folder; give a file name (e.g. inside that folder)");
    }
    if (opts.kind === "folder" && !stat.isDirectory) {
      fail("is a file, not a folder; give a folder (it is created if missing)");
    }
  }
  // The folder that must accept new files: the path itself, or its nearest existing ancestor.
  let folder = opts.kind === "folder" && stat ? full : dirname(full);
  for (;;) {
    const s = await statOrNull(folder, opts);
    if (s && !s.isDirectory) fail(`cannot be created: ${folder} is a file, not a folder`);
    if (s) break;
    const up = dirname(folder);
    if (up === folder) break;
    folder = up;
  }
  try {
    const probe = await Deno.makeTempFile({ dir: folder, prefix: ".prefixkv-write-check-" });
    await Deno.remove(probe);
  } catch (err) {
    fail(
      `cannot write in ${folder}: ${fileProblem(err)}; choose another path or fix its permissions`,
    );
  }
  if (stat && opts.kind === "file") {
    try {
      (await Deno.open(full, { write: true })).close();
    } catch (err) {
      fail(`cannot be overwritten: ${fileProblem(err)}`);
    }
  }
}

/**
 * Writes `text` to `path` through a temporary file in the same folder and a rename, so readers
 * (and a run killed part-way) never see a half-written file.
 */
export async function writeTextFileAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}`;
  try {
    await Deno.writeTextFile(tmp, text);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw fileError(path, "write it", err);
  }
}

async function statOrNull(path: string, opts: OutputPathOptions): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "ENOENT") return null;
    if (code === "ENOTDIR") {
      throw new InputError(
        `${opts.what} ${path}: cannot be created: a part of the path is a file, not a folder`,
      );
    }
    throw new InputError(`${opts.what} ${path}: cannot check it: ${fileProblem(err)}`);
  }
}
