import { assertEquals, assertMatch, assertThrows } from "@std/assert";
import { join, resolve } from "node:path";
import { chooseSamples, parseCalibrationData } from "../../lib/prefix/calibration_data.ts";

const SOURCE = "/data/llava/detail_1k.json";

Deno.test("calibration data: LLaVA-Description items, text-only items and strings", () => {
  const text = JSON.stringify([
    {
      id: "000000215677",
      image: "coco/000000215677.jpg",
      conversations: [
        { from: "human", value: "<image>\nDescribe the image in detail." },
        { from: "gpt", value: "A long answer." },
      ],
    },
    {
      id: 7,
      image: "/abs/x.png",
      conversations: [{ from: "human", value: "What is it?\n<image>" }],
    },
    { prompt: "  Tell me a story.  " },
    { conversations: [{ from: "human", value: "No image here." }] },
    "A plain string prompt",
  ]);
  assertEquals(parseCalibrationData(text, SOURCE), [
    {
      id: "000000215677",
      question: "Describe the image in detail.",
      image: "/data/llava/coco/000000215677.jpg",
    },
    { id: "7", question: "What is it?", image: "/abs/x.png" },
    { id: "#2", question: "Tell me a story." },
    { id: "#3", question: "No image here." },
    { id: "#4", question: "A plain string prompt" },
  ]);
  // --image-dir replaces the data file's directory.
  const withDir = parseCalibrationData(text, SOURCE, { imageDir: "imgs" });
  assertEquals(withDir[0].image, join(resolve("imgs"), "coco/000000215677.jpg"));
});

Deno.test("calibration data: malformed items are errors naming the sample", () => {
  const bad: [unknown, RegExp][] = [
    [{}, /not valid JSON|expected a non-empty JSON list/],
    [[], /expected a non-empty JSON list/],
    [[{ id: "a" }], /sample 0 \(a\): needs "conversations" or "prompt"/],
    [
      [{ conversations: [{ from: "gpt", value: "x" }] }],
      /sample 0 \(#0\): conversations have no human turn/,
    ],
    [
      [{ conversations: [{ from: "human", value: "<image>\nQ" }] }],
      /has <image> but the sample no "image"/,
    ],
    [[{ prompt: "<image>", image: "a.png" }], /the question is empty/],
    [[42], /sample 0 must be an object or a string/],
  ];
  for (const [data, want] of bad) {
    assertMatch(
      assertThrows(() => parseCalibrationData(JSON.stringify(data), SOURCE)).message,
      want,
    );
  }
  assertMatch(
    assertThrows(() => parseCalibrationData("{", SOURCE), Error).message,
    /not valid JSON/,
  );
});

Deno.test("calibration data: first N, or N drawn with a seed (deterministic, distinct)", () => {
  const items = Array.from({ length: 10 }, (_, i) => i);
  assertEquals(chooseSamples(items, 3), [0, 1, 2]);
  const a = chooseSamples(items, 4, 11);
  assertEquals(a, chooseSamples(items, 4, 11));
  assertEquals(new Set(a).size, 4);
  assertEquals(chooseSamples(items, 10, 3).toSorted((x, y) => x - y), items);
  assertMatch(
    assertThrows(() => chooseSamples(items, 11), Error).message,
    /asked for 11 samples but the data has only 10/,
  );
  assertMatch(assertThrows(() => chooseSamples(items, 0), Error).message, /positive integer/);
});
