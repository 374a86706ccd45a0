/**
 * Entry point of `deno task prefixkv`: dispatches to one command module per sub-command.
 *
 * @module
 */
import { errorReport } from "../errors.ts";
import type { Command } from "./command.ts";

export { errorReport };

/** Sub-commands, loaded lazily so `--help` stays fast. Add one line per command file. */
const COMMANDS: Record<string, () => Promise<{ command: Command }>> = {
  analyze: () => import("./analyze.ts"),
  calibrate: () => import("./calibrate.ts"),
  "eval-scenes": () => import("./eval_scenes.ts"),
  generate: () => import("./generate.ts"),
  recipes: () => import("./recipes.ts"),
  scenes: () => import("./scenes.ts"),
  search: () => import("./search.ts"),
};

async function overview(): Promise<string> {
  const names = Object.keys(COMMANDS).sort();
  const commands = await Promise.all(names.map(async (n) => (await COMMANDS[n]()).command));
  const width = Math.max(...names.map((n) => n.length));
  return [
    "prefixkv — KV-cache retention for vision-language models (PrefixKV and baselines)",
    "",
    "Usage: deno task prefixkv <command> [options]   (add --help to any command)",
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
  ].join("\n");
}

/** Runs the CLI with `args` and resolves to the process exit code. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(await overview());
    return name ? 0 : 2;
  }
  const load = COMMANDS[name];
  if (!load) {
    console.error(
      `prefixkv: unknown command "${name}". Known: ${Object.keys(COMMANDS).sort().join(", ")}`,
    );
    return 2;
  }
  const { command } = await load();
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(command.help);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    console.error(`prefixkv ${name}: ${errorReport(err)}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
