/** Runs `deno task prefixkv` sub-commands in a child process, for CLI tests. */
const MAIN = new URL("../../lib/cli/main.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

/** The entry point of `deno task experiments`. */
export const EXPERIMENTS_MAIN: string = new URL("../../experiments/run/main.ts", import.meta.url)
  .pathname;

/** Exit code and output of one CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@link cliCommand}. */
export interface CliCommandOptions {
  /** The script to run (default: `lib/cli/main.ts`). */
  script?: string;
  /** Deno flags before the script, e.g. `--deny-read=…`. */
  denoFlags?: string[];
}

/** The child process `deno run -A [denoFlags] script ...args` in `cwd`, output piped. */
export function cliCommand(
  args: string[],
  cwd: string,
  opts: CliCommandOptions = {},
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ...(opts.denoFlags ?? []),
      "--config",
      CONFIG,
      opts.script ?? MAIN,
      ...args,
    ],
    cwd,
    stdout: "piped",
    stderr: "piped",
  });
}

/** Runs `prefixkv ...args` (or `opts.script`) with `cwd` as working directory. */
export async function cli(
  args: string[],
  cwd: string,
  opts: CliCommandOptions = {},
): Promise<CliResult> {
  const out = await cliCommand(args, cwd, opts).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
export async function withTempDir(prefix: string, fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * `[command, --name value, …]` from `flags` in their order; `true` gives a bare `--name`,
 * `false` leaves the flag out.
 */
export function cliArgs(command: string, flags: Record<string, string | boolean>): string[] {
  return [
    command,
    ...Object.entries(flags).flatMap(([name, value]) =>
      value === false ? [] : value === true ? [`--${name}`] : [`--${name}`, value]
    ),
  ];
}
