/**
 * Procedural scene data set for the bundled tiny LLaVA: deterministic generator, exact
 * rasterizer, LLaVA-style conversations and a description parser for accuracy measurements.
 *
 * @module
 */
export {
  type Color,
  COLOR_NAMES,
  COLORS,
  IMAGE_SIZE,
  type Place,
  PLACES,
  type Shape,
  SHAPES,
  type Size,
  SIZES,
} from "./vocabulary.ts";
export { type RgbImage } from "./rasterizer.ts";
export {
  checkSceneStyle,
  drawTexture,
  SCENE_STYLES,
  type SceneStyle,
  STYLE_SPECS,
  styleForImageSize,
  type StyleSpec,
} from "./styles.ts";
export {
  generateScene,
  objectPixelMasks,
  renderScene,
  type Scene,
  type SceneObject,
  sceneStyle,
  SIZE_RADIUS,
} from "./generator.ts";
export {
  type AnswerStyle,
  type ConversationKind,
  type ConversationRecord,
  conversationsFor,
  DESCRIBE_QUESTION,
  describeScene,
  type Turn,
} from "./conversations.ts";
export {
  answersMatch,
  type DescribedObject,
  type DescriptionScore,
  type ParsedDescription,
  parseDescription,
  scoreDescription,
} from "./parser.ts";
export {
  encodePng,
  generateSplit,
  type SplitData,
  type SplitItem,
  splitItems,
  type SplitOptions,
  type SplitSummary,
  writeSplit,
} from "./dataset.ts";
