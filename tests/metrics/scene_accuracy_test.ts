import { assert, assertAlmostEquals, assertEquals, assertRejects } from "@std/assert";
import { BUNDLED_MODEL_DIR } from "../../lib/bundled.ts";
import { preprocessImage } from "../../lib/checkpoint/image.ts";
import { generateSplit } from "../../lib/data/scenes/dataset.ts";
import type { Scene, SceneObject } from "../../lib/data/scenes/generator.ts";
import { parseDescription } from "../../lib/data/scenes/parser.ts";
import { InputError } from "../../lib/errors.ts";
import { createRecipe } from "../../lib/recipes/registry.ts";
import {
  evaluateScenes,
  SCENE_TEST_SEED,
  SCENE_TEST_SPLIT,
  type SceneAnswer,
  sceneQuestions,
  scoreSceneAnswers,
} from "../../lib/metrics/scene_accuracy.ts";
import { chatPrompt } from "../../lib/runtime/chat_prompt.ts";
import { generate } from "../../lib/runtime/generate.ts";
import { loadModel } from "../../lib/runtime/model.ts";
import { makeTinyLlama } from "../fixtures/tiny_checkpoint.ts";

/** An object for hand-made scenes (pixel fields do not matter to scoring). */
function obj(size: string, color: string, shape: string, place: string): SceneObject {
  return { size, color, shape, place, cell: 0, cx: 0, cy: 0 } as SceneObject;
}

const A: Scene = {
  id: "hand-a",
  objects: [obj("large", "red", "circle", "top left"), obj("small", "blue", "square", "center")],
};
const B: Scene = {
  id: "hand-b",
  objects: [
    obj("small", "green", "triangle", "top"),
    obj("large", "yellow", "diamond", "right"),
    obj("small", "purple", "circle", "bottom right"),
  ],
};
const C: Scene = { id: "hand-c", objects: [obj("large", "orange", "square", "bottom")] };

const describe = (scene: Scene, got: string): SceneAnswer => ({
  scene,
  kind: "describe",
  question: "Describe the image in detail.",
  expected: "",
  got,
});

Deno.test("scoreSceneAnswers: hand-scored descriptions and short answers", () => {
  const answers: SceneAnswer[] = [
    // Exact, with word-level detokenised spacing: 2/2 objects, nothing invented.
    describe(
      A,
      "There are two objects . A large red circle is at the top left . A small blue square is at the center .",
    ),
    {
      scene: A,
      kind: "count",
      question: "How many objects are there?",
      expected: "There are two objects.",
      got: "There are two objects .",
    },
    {
      scene: A,
      kind: "color",
      question: "What color is the circle?",
      expected: "The circle is red.",
      got: "the circle is red.",
    },
    // One object right, one in the wrong place and one wrong altogether: 1/3, two invented.
    describe(
      B,
      "There are three objects. A small green triangle is at the top. A large yellow diamond is " +
        "at the left. A small orange square is at the bottom.",
    ),
    {
      scene: B,
      kind: "presence",
      question: "Is there a red circle?",
      expected: "No.",
      got: "Yes.",
    },
    // Right object, nothing invented, but a stray sentence: not exact.
    describe(C, "There is one object. A large orange square is at the bottom. square square"),
    {
      scene: C,
      kind: "place",
      question: "Where is the orange square?",
      expected: "The orange square is at the bottom.",
      got: "The orange square is at the bottom right.",
    },
  ];
  const s = scoreSceneAnswers(answers, 2);
  assertEquals(s.counts, {
    scenes: 3,
    descriptions: 3,
    objects: 6,
    objectsRight: 4,
    descriptionsWithoutInventedObject: 2,
    descriptionsExact: 1,
    shortQuestions: 4,
    shortQuestionsRight: 2,
  });
  assertAlmostEquals(s.objectsFullyRight, 4 / 6, 1e-12);
  assertAlmostEquals(s.descriptionsWithoutInventedObject, 2 / 3, 1e-12);
  assertAlmostEquals(s.descriptionsExact, 1 / 3, 1e-12);
  assertEquals(s.shortQuestionsRight, 0.5);
  assertEquals(s.byKind, {
    describe: { right: 1, total: 3, accuracy: 1 / 3 },
    count: { right: 1, total: 1, accuracy: 1 },
    color: { right: 1, total: 1, accuracy: 1 },
    presence: { right: 0, total: 1, accuracy: 0 },
    place: { right: 0, total: 1, accuracy: 0 },
  });
  assertEquals(s.samples.length, 2);
  assertEquals(s.samples[0].description, {
    objectsRight: 2,
    objectsTotal: 2,
    invented: 0,
    countRight: true,
    exact: true,
  });
  assertEquals(s.samples[1], {
    sceneId: "hand-a",
    kind: "count",
    question: "How many objects are there?",
    expected: "There are two objects.",
    got: "There are two objects .",
    right: true,
  });
});

Deno.test("scoreSceneAnswers: nothing asked gives zeros, not NaN", () => {
  const s = scoreSceneAnswers([]);
  assertEquals(
    [s.objectsFullyRight, s.descriptionsExact, s.shortQuestionsRight, s.samples.length],
    [0, 0, 0, 0],
  );
});

Deno.test("sceneQuestions: strips the image placeholder and keeps the answers", () => {
  const { records } = generateSplit("test", 1, 3);
  const qs = sceneQuestions(records);
  assertEquals(qs[0], {
    kind: "describe",
    question: "Describe the image in detail.",
    expected: records[0].conversations[1].value,
  });
  assert(qs.every((q) => !q.question.includes("<image>")));
});

Deno.test("evaluateScenes: three test scenes on the bundled model, recounted by hand", async () => {
  const model = await loadModel(BUNDLED_MODEL_DIR, { cacheDir: false });
  try {
    const progress: number[] = [];
    const r = await evaluateScenes(model, {
      count: 3,
      maxNewTokens: 48,
      sampleCount: 100,
      onProgress: (p) => progress.push(p.done),
    });
    assertEquals(progress, [1, 2, 3]);
    assertEquals(r.setup.split, SCENE_TEST_SPLIT);
    assertEquals(r.setup.seed, SCENE_TEST_SEED);
    assertEquals(r.setup.recipe, "full@100%");
    assertEquals(typeof r.provenance.date, "string");

    // The questions are exactly those of the first three test scenes, in order.
    const data = generateSplit(SCENE_TEST_SPLIT, 3, SCENE_TEST_SEED);
    assertEquals(r.samples.length, data.records.length);
    assertEquals(
      r.samples.map((s) => s.expected),
      data.records.map((x) => x.conversations[1].value),
    );
    assertEquals(r.counts.scenes, 3);
    assertEquals(r.counts.descriptions, 3);
    assertEquals(r.counts.shortQuestions, data.records.length - 3);
    assertEquals(r.counts.objects, data.scenes.reduce((n, s) => n + s.objects.length, 0));

    // Recount from the samples with plain multiset matching of the parsed objects.
    let objectsRight = 0, clean = 0, shortRight = 0;
    for (const s of r.samples) {
      if (s.kind !== "describe") {
        const norm = (t: string) => t.toLowerCase().replace(/\s+/g, "");
        if (norm(s.expected) === norm(s.got)) shortRight++;
        continue;
      }
      const truth = data.scenes.find((x) => x.id === s.sceneId)!.objects
        .map((o) => `${o.size} ${o.color} ${o.shape} ${o.place}`);
      let invented = 0;
      for (const d of parseDescription(s.got).objects) {
        const i = truth.indexOf(`${d.size} ${d.color} ${d.shape} ${d.place}`);
        if (i >= 0) {
          truth.splice(i, 1);
          objectsRight++;
        } else invented++;
      }
      if (invented === 0) clean++;
    }
    assertEquals(r.counts.objectsRight, objectsRight);
    assertEquals(r.counts.descriptionsWithoutInventedObject, clean);
    assertEquals(r.counts.shortQuestionsRight, shortRight);
    assertEquals(r.objectsFullyRight, objectsRight / r.counts.objects);
    assertEquals(r.shortQuestionsRight, shortRight / r.counts.shortQuestions);

    // An answer is what the ordinary runtime path gives for that question and image.
    const last = r.samples[r.samples.length - 1];
    const prompt = await chatPrompt(model, {
      question: last.question,
      image: preprocessImage(data.images[2], model.source.imageProcessor!),
    });
    const direct = await generate(model, prompt, { maxNewTokens: 48 });
    assertEquals(last.got, direct.text);
  } finally {
    await model.close();
  }
});

Deno.test("evaluateScenes: a text-only model and bad options are InputErrors", async () => {
  const ck = makeTinyLlama();
  const llama = await loadModel({ spec: ck.spec, tensors: ck.store }, { cacheDir: false });
  try {
    await assertRejects(() => evaluateScenes(llama, { count: 1 }), InputError, "takes no images");
  } finally {
    await llama.close();
  }
  const model = await loadModel(BUNDLED_MODEL_DIR, { cacheDir: false });
  try {
    await assertRejects(() => evaluateScenes(model, { count: 0 }), InputError, "count");
    await assertRejects(
      () =>
        evaluateScenes(model, {
          count: 1,
          recipe: createRecipe("snapkv"),
          budget: { fraction: 2 },
        }),
      InputError,
      "fraction",
    );
  } finally {
    await model.close();
  }
});
