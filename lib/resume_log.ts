/**
 * One resume-file format for long runs that must survive being killed: a JSON Lines file whose
 * first line is a header saying what the records are valid for (model, data, settings) and each
 * further line one finished record.
 *
 * - Opening checks the header field by field; a file made for anything else is moved aside to
 *   `<path>.stale` (nothing is deleted) and a fresh one started, saying which fields differ.
 * - Every record line is validated; a line that is cut short (an interrupted write), not JSON,
 *   or not a valid record is dropped with a message naming the line and why, and its work is
 *   redone. The file is then rewritten atomically (temporary file + rename) with only the good
 *   lines, so later appends never land on a broken line.
 * - {@link ResumeLog.append} writes one whole line in one `O_APPEND` write: a kill leaves either
 *   the full line or a cut-short last line that the next open drops.
 *
 * @example
 * ```ts
 * import { ResumeLog } from "./resume_log.ts";
 * const path = `${await Deno.makeTempDir()}/run.partial.jsonl`;
 * const open = () =>
 *   ResumeLog.open({
 *     path,
 *     header: { kind: "example", settings: 1 },
 *     parseRecord: (v) => typeof (v as { id?: unknown }).id === "string" ? v as { id: string } : "no id",
 *     keyOf: (r) => r.id,
 *   });
 * const log = await open();
 * await log.append({ id: "a" });
 * console.log((await open()).get("a")); // { id: "a" }
 * ```
 *
 * @module
 */
import { dirname } from "node:path";
import { fileError } from "./errors.ts";
import { writeTextFileAtomic } from "./output_path.ts";

/** A header: a flat JSON object whose fields must all match for the records to be reused. */
export type ResumeHeader = Readonly<Record<string, string | number | boolean | null>>;

/** Options of {@link ResumeLog.open}. */
export interface ResumeLogOptions<R> {
  /** The `.jsonl` file (created, with its folder, when missing). */
  path: string;
  /** What the records are valid for. */
  header: ResumeHeader;
  /** Checks one parsed line: the record, or why it is not one. */
  parseRecord: (value: unknown) => R | string;
  /** The record's key (one record per key; a later line replaces an earlier one). */
  keyOf: (record: R) => string;
  /** Told about a stale file or dropped lines (default: nothing is said). */
  onMessage?: (message: string) => void;
}

/** Records of a resumable run; see the module documentation. */
export class ResumeLog<R> {
  readonly #records: Map<string, R>;
  private constructor(
    readonly path: string,
    records: Map<string, R>,
    readonly keyOf: (record: R) => string,
  ) {
    this.#records = records;
  }

  /** Opens (validating and repairing) or creates the resume file. */
  static async open<R>(opts: ResumeLogOptions<R>): Promise<ResumeLog<R>> {
    const { path, header } = opts;
    const say = opts.onMessage ?? (() => {});
    const text = await readIfPresent(path);
    const records = new Map<string, R>();
    let rewrite = text === null;
    if (text !== null) {
      const lines = text.split("\n");
      const complete = text.endsWith("\n");
      const differing = headerDifference(lines[0], header);
      if (differing !== null) {
        await rename(path, `${path}.stale`);
        say(`${path} was made ${differing}; kept it as ${path}.stale and started over`);
        rewrite = true;
      } else {
        const body = lines.slice(1, complete ? -1 : undefined);
        body.forEach((line, i) => {
          const lineNo = i + 2;
          const cutShort = !complete && i === body.length - 1;
          const why = cutShort ? "is cut short (an interrupted write)" : check(line, opts, records);
          if (why !== null) {
            say(`${path} line ${lineNo} ${why}; dropped it, that work is redone`);
            rewrite = true;
          }
        });
      }
    }
    if (rewrite) {
      const lines = [header, ...records.values()].map((x) => JSON.stringify(x) + "\n").join("");
      await Deno.mkdir(dirname(path), { recursive: true }).catch((e) => {
        throw fileError(dirname(path), "create the folder of the resume file", e);
      });
      await writeTextFileAtomic(path, lines);
    }
    return new ResumeLog(path, records, opts.keyOf);
  }

  /** The record stored under `key`, if any. */
  get(key: string): R | undefined {
    return this.#records.get(key);
  }

  /** Number of records. */
  get size(): number {
    return this.#records.size;
  }

  /** Appends `record` as one line in a single write, and remembers it. */
  async append(record: R): Promise<void> {
    const line = new TextEncoder().encode(JSON.stringify(record) + "\n");
    await Deno.writeFile(this.path, line, { append: true }).catch((e) => {
      throw fileError(this.path, "append to the resume file", e);
    });
    this.#records.set(this.keyOf(record), record);
  }
}

/** Why `firstLine` is not `header` ("with another budget, data"), or null when it is. */
function headerDifference(firstLine: string, header: ResumeHeader): string | null {
  let head: unknown;
  try {
    head = JSON.parse(firstLine);
  } catch {
    return "by something else (its first line is not a header)";
  }
  if (head === null || typeof head !== "object" || Array.isArray(head)) {
    return "by something else (its first line is not a header)";
  }
  const h = head as Record<string, unknown>;
  const keys = new Set([...Object.keys(header), ...Object.keys(h)]);
  const differing = [...keys].filter((k) => h[k] !== header[k]);
  return differing.length === 0 ? null : `with another ${differing.join(", ")}`;
}

/** Adds the record on `line` to `records`; returns why it is unusable, or null. */
function check<R>(line: string, opts: ResumeLogOptions<R>, records: Map<string, R>): string | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return "is not JSON";
  }
  const record = opts.parseRecord(value);
  if (typeof record === "string") return `is not a valid record (${record})`;
  records.set(opts.keyOf(record), record);
  return null;
}

async function readIfPresent(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return null;
    throw fileError(path, "read the resume file", e);
  }
}

async function rename(from: string, to: string): Promise<void> {
  await Deno.rename(from, to).catch((e) => {
    throw fileError(to, `move ${from} there`, e);
  });
}
