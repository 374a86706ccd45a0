/**
 * Chat templates rendered within limits. A checkpoint's template is code: a loop such as
 * `{% for i in range(10**9) %}` or a string doubled in a loop would run the process out of
 * memory and crash V8. Here every evaluation step is counted and every string or list the
 * template makes is measured as it is made, so such a template fails fast with an error naming
 * the limit ({@link LIMITS}`.promptChars` characters; {@link TEMPLATE_STEPS} steps), instead of
 * rendering for minutes and crashing. Ordinary templates take a few thousand steps.
 *
 * @example
 * ```ts
 * import { renderBounded } from "./bounded_template.ts";
 * console.log(renderBounded("{{ bos_token }}Hi {{ name }}", { bos_token: "<s>", name: "you" }));
 * // "<s>Hi you"
 * ```
 *
 * @module
 */
import { Environment, Interpreter, Template } from "@huggingface/jinja";
import { LIMITS } from "../limits.ts";

/** Evaluation steps a template may take (ordinary chat templates take a few thousand). */
export const TEMPLATE_STEPS = 200_000;

type Statement = Parameters<Interpreter["evaluate"]>[0];
type RuntimeValue = ReturnType<Interpreter["evaluate"]>;

/** An interpreter that stops at {@link TEMPLATE_STEPS} steps or an oversized string or list. */
class BoundedInterpreter extends Interpreter {
  #steps = 0;

  override evaluate(statement: Statement, environment: Environment): RuntimeValue {
    if (++this.#steps > TEMPLATE_STEPS) {
      throw new Error(`it took more than ${TEMPLATE_STEPS} steps (does it loop?)`);
    }
    const value = super.evaluate(statement, environment);
    const v = (value as { value?: unknown }).value;
    const size = typeof v === "string" || Array.isArray(v) ? v.length : 0;
    if (size > LIMITS.promptChars.max) {
      throw new Error(
        `it made a ${typeof v === "string" ? "text" : "list"} of more than ` +
          `${LIMITS.promptChars.max} ${typeof v === "string" ? "characters" : "items"} ` +
          `(${LIMITS.promptChars.why})`,
      );
    }
    return value;
  }
}

/** `range` as Jinja has it, refusing lists over the limit before building them. */
function range(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0) throw new Error("range() step must not be zero");
  const count = Math.max(0, Math.ceil((stop - start) / step));
  if (count > LIMITS.promptChars.max) {
    throw new Error(`range() of ${count} numbers is over the limit of ${LIMITS.promptChars.max}`);
  }
  return Array.from({ length: count }, (_, i) => start + i * step);
}

/** `strftime_now` as the library defines it (the date formats chat templates use). */
function strftimeNow(format: string): string {
  const d = new Date();
  const pad2 = (n: number) => String(n).padStart(2, "0");
  const month = (style: "long" | "short") => new Intl.DateTimeFormat(undefined, { month: style });
  return format.replace(/%[YmdbBHM%]/g, (t) =>
    ({
      "%Y": String(d.getFullYear()),
      "%m": pad2(d.getMonth() + 1),
      "%d": pad2(d.getDate()),
      "%b": month("short").format(d),
      "%B": month("long").format(d),
      "%H": pad2(d.getHours()),
      "%M": pad2(d.getMinutes()),
      "%%": "%",
    })[t] ?? t);
}

/**
 * Renders `template` with `items` like `Template.render`, within the limits above; a template
 * that breaks them throws an `Error` saying which (callers name the template's file).
 */
export function renderBounded(template: string, items: Record<string, unknown>): string {
  const env = new Environment();
  // The library's globals (its own setup function is not exported), with a bounded range.
  const globals: Record<string, unknown> = {
    false: false,
    true: true,
    none: null,
    False: false,
    True: true,
    None: null,
    raise_exception: (message: string) => {
      throw new Error(message);
    },
    range,
    strftime_now: strftimeNow,
  };
  for (const [key, value] of Object.entries({ ...globals, ...items })) env.set(key, value);
  const result = new BoundedInterpreter(env).run(new Template(template).parsed);
  return String((result as { value: unknown }).value);
}
