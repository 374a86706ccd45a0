/** Notebook display (lib/plot/notebook.ts) through a recording stand-in for Deno.jupyter. */
import { assert, assertEquals, assertRejects } from "@std/assert";
import * as Plot from "@observablehq/plot";
import {
  DISPLAY_SETTLE_MS,
  displaySettleMs,
  type JupyterDisplay,
  markdownTable,
  progressLine,
  provenanceMarkdown,
  showFigure,
  showMarkdown,
  showProgress,
  showTable,
  useJupyterDisplay,
} from "../../lib/plot/notebook.ts";

type Call = { obj: Record<string, string>; options?: Record<string, unknown> };

/** Runs `body` with displays recorded instead of published. */
async function recording(body: () => Promise<void>): Promise<Call[]> {
  const calls: Call[] = [];
  const display: JupyterDisplay = {
    display(obj, options) {
      calls.push({ obj: obj as Record<string, string>, options });
      return Promise.resolve();
    },
  };
  useJupyterDisplay(display);
  try {
    await body();
  } finally {
    useJupyterDisplay(undefined);
  }
  return calls;
}

Deno.test("showFigure: a Plot spec as raw image/svg+xml, or as a base64 PNG", async () => {
  const spec = { marks: [Plot.lineY([1, 3, 2])] };
  const calls = await recording(async () => {
    await showFigure(spec);
    await showFigure(spec, { format: "png" });
  });
  assertEquals(calls.length, 2);
  assert(calls[0].obj["image/svg+xml"].startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assertEquals(calls[0].options, { raw: true });
  assert(calls[1].obj["image/png"].startsWith("iVBORw0KGgo")); // PNG signature in base64
  await assertRejects(() => recording(() => showFigure("<div/>")), Error, "not an SVG document");
});

Deno.test("showProgress: one line, then updates of the same display id", async () => {
  const calls = await recording(async () => {
    const progress = await showProgress("samples", 2);
    await progress.step("a");
    await progress.step("b");
    await progress.done();
  });
  assertEquals(calls.length, 4);
  const id = calls[0].options!.display_id;
  assert(typeof id === "string" && id.length > 0);
  assertEquals(calls[0].options!.update, undefined);
  for (const c of calls.slice(1)) {
    assertEquals([c.options!.display_id, c.options!.update], [id, true]);
  }
  assert(calls[0].obj["text/plain"].startsWith("samples: 0/2 (0%)"));
  assert(calls[2].obj["text/plain"].startsWith("samples: 2/2 (100%)"));
  assert(!calls[3].obj["text/plain"].includes("left"));
  await assertRejects(
    () => recording(async () => void await showProgress("x", 1.5)),
    Error,
    "whole number",
  );
});

Deno.test("progressLine: counts, percent, elapsed, time left and note", () => {
  assertEquals(progressLine("cal", 1, 4, 2000, "s1"), "cal: 1/4 (25%) · 2.0 s · 6.0 s left · s1");
  assertEquals(progressLine("cal", 4, 4, 8000), "cal: 4/4 (100%) · 8.0 s");
  assertEquals(progressLine("none", 0, 0, 0), "none: 0/0 (100%) · 0.0 s");
});

Deno.test("markdownTable and showTable: header, rule, escaped cells, three decimals", async () => {
  const rows = [{ name: "a|b", value: 0.12345, n: 3 }, { name: "c\nd", value: 2, n: 4 }];
  const table = "| name | value | n |\n| --- | --- | --- |\n| a\\|b | 0.123 | 3 |\n| c d | 2 | 4 |";
  assertEquals(markdownTable(rows), table);
  assertEquals(markdownTable(rows, ["n"]), "| n |\n| --- |\n| 3 |\n| 4 |");
  const calls = await recording(async () => {
    await showTable(rows);
    await showMarkdown("*hi*");
  });
  assertEquals(calls.map((c) => c.obj["text/markdown"]), [table, "*hi*"]);
});

Deno.test("display outside a notebook: an error naming the kernel and the alternative", async () => {
  useJupyterDisplay({ display: () => Promise.reject(new Error("no kernel here")) });
  try {
    await assertRejects(() => showMarkdown("x"), Error, "deno jupyter --install");
  } finally {
    useJupyterDisplay(undefined);
  }
});

Deno.test("provenanceMarkdown: toolkit, commit, model, runtime, platform and day", () => {
  const p = {
    tool: "@prefixkv/prefixkv",
    version: "0.1.0",
    commit: "0123456789abcdef",
    date: "2026-12-01T20:00:00.000Z",
    deno: "2.9.6",
    v8: "14",
    onnxruntime: "1.30.0",
    platform: "linux-x86_64",
    args: null,
  };
  assertEquals(
    provenanceMarkdown(p, { dir: "ckpt", fingerprint: "fedcba9876543210" }),
    "*Run by @prefixkv/prefixkv 0.1.0 at `0123456789` · model `ckpt` (`fedcba987654`) · " +
      "Deno 2.9.6 · onnxruntime 1.30.0 · linux-x86_64 · 2026-12-01.*",
  );
  assertEquals(
    provenanceMarkdown({ ...p, commit: null, onnxruntime: null }),
    "*Run by @prefixkv/prefixkv 0.1.0 · Deno 2.9.6 · onnxruntime unknown · linux-x86_64 · 2026-12-01.*",
  );
});

Deno.test("displaySettleMs: 10 ms at least, longer for larger outputs, at most 250 ms", () => {
  assertEquals(displaySettleMs(0), DISPLAY_SETTLE_MS);
  assertEquals(displaySettleMs(2048), DISPLAY_SETTLE_MS + 1);
  assertEquals(displaySettleMs(96 * 1024), DISPLAY_SETTLE_MS + 48);
  assertEquals(displaySettleMs(10 * 1024 * 1024), 250);
});
