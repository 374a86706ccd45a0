/**
 * The WebGPU adapter the webgpu tests run on, printed once per test module. Without one the
 * tests are skipped with the printed reason (CI installs Mesa's software adapter, so they run
 * there); a device that exists but fails is a test failure, never a skip.
 *
 * @module
 */
import { adapterLabel, findWebGpuAdapter, WEBGPU_INSTALL_HINT } from "../../lib/runtime/webgpu.ts";

/** The adapter, or `null` when this machine has none. */
export const adapter = await findWebGpuAdapter();

/** `ignore` for tests that need the adapter. */
export const noAdapter: boolean = adapter === null;

/** `ignore` for tests that need half-precision shaders. */
export const noShaderF16: boolean = !adapter?.shaderF16;

console.log(
  adapter
    ? `webgpu tests run on: ${adapterLabel(adapter)}`
    : `webgpu tests skipped: no WebGPU adapter on this machine. ${WEBGPU_INSTALL_HINT}`,
);
