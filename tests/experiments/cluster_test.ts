/**
 * The cluster files run `deno task experiments` with one shard per task: the Slurm array script
 * (run here with a stand-in `deno` that prints its arguments) and the Kubernetes indexed Job.
 */
import { assertEquals, assertMatch } from "@std/assert";
import { join } from "node:path";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("slurm.sh: array task i of n runs shard i/n into its own folder", async () => {
  const bin = await Deno.makeTempDir();
  const work = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(bin, "deno"), '#!/bin/sh\necho "$@"\n');
    await Deno.chmod(join(bin, "deno"), 0o755);
    const out = await new Deno.Command("bash", {
      args: [join(ROOT, "experiments/cluster/slurm.sh"), "--samples", "10"],
      env: {
        PATH: `${bin}:${Deno.env.get("PATH")}`,
        SLURM_ARRAY_TASK_ID: "2",
        SLURM_ARRAY_TASK_COUNT: "4",
        SLURM_SUBMIT_DIR: work,
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    assertEquals(
      new TextDecoder().decode(out.stdout).trim(),
      "task experiments --samples 10 --shard 2/4 --out results/shards/2",
    );
  } finally {
    await Deno.remove(bin, { recursive: true });
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("k8s-job.yaml: an indexed Job whose completions match the shard count", () => {
  const yaml = Deno.readTextFileSync(join(ROOT, "experiments/cluster/k8s-job.yaml"));
  assertMatch(yaml, /completionMode: Indexed/);
  const completions = /completions: (\d+)/.exec(yaml)?.[1];
  const shards = /name: SHARDS\s+value: "(\d+)"/.exec(yaml)?.[1];
  assertEquals(completions, shards);
  assertMatch(yaml, /i=\$\(\(JOB_COMPLETION_INDEX \+ 1\)\)/);
  assertMatch(yaml, /deno task experiments --shard "\$i\/\$SHARDS" --out "\/results\/shards\/\$i"/);
});
