/**
 * Stand-in for `jsr:@std/path` (JSR is unreachable from this project's machines; only the npm
 * registry is). Re-exports the `node:path` functions with the same names and semantics, plus
 * `fromFileUrl`/`toFileUrl`.
 *
 * @module
 */
import { fileURLToPath, pathToFileURL } from "node:url";

export {
  basename,
  dirname,
  extname,
  isAbsolute,
  join,
  normalize,
  relative,
  resolve,
  sep as SEPARATOR,
} from "node:path";

/** Converts a `file:` URL to a path. */
export function fromFileUrl(url: string | URL): string {
  return fileURLToPath(url);
}

/** Converts a path to a `file:` URL. */
export function toFileUrl(path: string): URL {
  return pathToFileURL(path);
}
