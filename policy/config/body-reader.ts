/**
 * Typed reads of one HCL body against a fixed set of fields. Every read records the field as
 * known; `finish()` reports whatever is left as "unknown field/block", so a typo is a load error,
 * never a silently ignored setting.
 */
import type { Diagnostics, Position } from './diagnostics.js';
import type { HclAttribute, HclBlock, HclBody, HclValue } from './hcl.js';
import { parseDuration } from './duration.js';

export interface Reference {
  kind: string; // e.g. "postgres", "profile", "human_approver"
  name: string;
  pos: Position;
}

export type SecretSource =
  | { from: 'env'; name: string; pos: Position }
  | { from: 'file'; path: string; pos: Position };

export class BodyReader {
  readonly #known = new Set<string>();
  readonly #knownBlocks = new Set<string>();

  constructor(
    readonly body: HclBody,
    readonly diagnostics: Diagnostics,
    readonly what: string, // "gateway", `peer "x"`: used in messages
    readonly pos: Position,
  ) {
    const seen = new Map<string, HclAttribute>();
    for (const attribute of body.attributes) {
      const first = seen.get(attribute.name);
      if (first) {
        diagnostics.error(attribute.pos, `${what}: "${attribute.name}" is set twice (first at line ${first.pos.line})`);
      } else {
        seen.set(attribute.name, attribute);
      }
    }
  }

  attribute(name: string): HclAttribute | undefined {
    this.#known.add(name);
    return this.body.attributes.find((a) => a.name === name);
  }

  has(name: string): boolean {
    return this.body.attributes.some((a) => a.name === name);
  }

  #missing(name: string): void {
    this.diagnostics.error(this.pos, `${this.what}: missing required field "${name}"`);
  }

  #wrong(attribute: HclAttribute, expected: string): void {
    this.diagnostics.error(attribute.value.pos, `${this.what}: "${attribute.name}" must be ${expected}`);
  }

  string(name: string, options: { required?: boolean; oneOf?: readonly string[] } = {}): string | undefined {
    const attribute = this.attribute(name);
    if (!attribute) {
      if (options.required) this.#missing(name);
      return undefined;
    }
    if (attribute.value.kind !== 'string') {
      const hint = attribute.value.kind === 'call' ? ' (env() and file() are only allowed for secrets)' : '';
      this.#wrong(attribute, `a string${hint}`);
      return undefined;
    }
    if (options.oneOf && !options.oneOf.includes(attribute.value.value)) {
      this.#wrong(attribute, `one of ${options.oneOf.map((v) => `"${v}"`).join(', ')}`);
      return undefined;
    }
    return attribute.value.value;
  }

  stringValue(name: string): { value: string; attribute: HclAttribute } | undefined {
    const attribute = this.attribute(name);
    if (!attribute) return undefined;
    if (attribute.value.kind !== 'string') {
      this.#wrong(attribute, 'a string');
      return undefined;
    }
    return { value: attribute.value.value, attribute };
  }

  stringList(name: string): string[] | undefined {
    const attribute = this.attribute(name);
    if (!attribute) return undefined;
    if (attribute.value.kind !== 'list' || attribute.value.items.some((i) => i.kind !== 'string')) {
      this.#wrong(attribute, 'a list of strings');
      return undefined;
    }
    return attribute.value.items.map((i) => (i as { value: string }).value);
  }

  integer(name: string, options: { required?: boolean; min?: number; max?: number } = {}): number | undefined {
    const attribute = this.attribute(name);
    if (!attribute) {
      if (options.required) this.#missing(name);
      return undefined;
    }
    const v = attribute.value;
    const min = options.min ?? Number.MIN_SAFE_INTEGER;
    const max = options.max ?? Number.MAX_SAFE_INTEGER;
    if (v.kind !== 'number' || !Number.isInteger(v.value) || v.value < min || v.value > max) {
      const range = options.min !== undefined || options.max !== undefined ? ` between ${min} and ${max}` : '';
      this.#wrong(attribute, `an integer${range}`);
      return undefined;
    }
    return v.value;
  }

  bool(name: string): boolean | undefined {
    const attribute = this.attribute(name);
    if (!attribute) return undefined;
    if (attribute.value.kind !== 'bool') {
      this.#wrong(attribute, 'true or false');
      return undefined;
    }
    return attribute.value.value;
  }

  /** A duration: "500ms", "20s", "10m", "1h30m", "7d". Returns milliseconds. */
  duration(name: string): number | undefined {
    const attribute = this.attribute(name);
    if (!attribute) return undefined;
    const v = attribute.value;
    const ms = v.kind === 'string' ? parseDuration(v.value) : undefined;
    if (ms === undefined) {
      this.#wrong(attribute, 'a duration like "30s", "10m" or "1h30m"');
      return undefined;
    }
    return ms;
  }

  /**
   * A duration given as a string ("90s", "10m") or, as Claw Patrol files write it, a number of
   * seconds. Returns milliseconds.
   */
  durationOrSeconds(name: string): number | undefined {
    const attribute = this.attribute(name);
    if (!attribute) return undefined;
    const v = attribute.value;
    if (v.kind === 'number' && Number.isFinite(v.value) && v.value >= 0) return Math.round(v.value * 1000);
    const ms = v.kind === 'string' ? parseDuration(v.value) : undefined;
    if (ms === undefined) {
      this.#wrong(attribute, 'a duration like "30s", "10m" or "1h30m" (or a number of seconds)');
      return undefined;
    }
    return ms;
  }

  /** A typed reference `kind.name` to one of `kinds`. Resolution against declarations happens later. */
  reference(name: string, kinds: readonly string[], options: { required?: boolean } = {}): Reference | undefined {
    const attribute = this.attribute(name);
    if (!attribute) {
      if (options.required) this.#missing(name);
      return undefined;
    }
    return this.#toReference(attribute.name, attribute.value, kinds);
  }

  referenceList(name: string, kinds: readonly string[]): Reference[] | undefined {
    const attribute = this.attribute(name);
    if (!attribute) return undefined;
    if (attribute.value.kind !== 'list') {
      this.#wrong(attribute, `a list of references (${kinds.map((k) => `${k}.<name>`).join(', ')})`);
      return undefined;
    }
    const out: Reference[] = [];
    for (const item of attribute.value.items) {
      const ref = this.#toReference(attribute.name, item, kinds);
      if (ref) out.push(ref);
    }
    return out;
  }

  #toReference(field: string, value: HclValue, kinds: readonly string[]): Reference | undefined {
    if (value.kind !== 'traversal' || value.parts.length !== 2) {
      const quoted = value.kind === 'string' ? ` (write it without quotes: ${value.value})` : '';
      this.diagnostics.error(value.pos, `${this.what}: "${field}" must be a reference like ${kinds[0]}.<name>${quoted}`);
      return undefined;
    }
    const [kind, refName] = value.parts as [string, string];
    if (!kinds.includes(kind)) {
      this.diagnostics.error(value.pos, `${this.what}: "${field}" must refer to ${kinds.join(' or ')}, not ${kind}`);
      return undefined;
    }
    return { kind, name: refName, pos: value.pos };
  }

  /** A secret: env("NAME") or file("path"). A literal string is refused so secrets never sit in git. */
  secret(name: string, options: { required?: boolean } = {}): SecretSource | undefined {
    const attribute = this.attribute(name);
    if (!attribute) {
      if (options.required) this.#missing(name);
      return undefined;
    }
    const v = attribute.value;
    const only = v.kind === 'call' && v.args.length === 1 ? v.args[0] : undefined;
    if (v.kind === 'call' && (v.name === 'env' || v.name === 'file') && only?.kind === 'string') {
      const arg = only.value;
      if (arg === '') {
        this.diagnostics.error(v.pos, `${this.what}: ${v.name}() needs a non-empty argument`);
        return undefined;
      }
      return v.name === 'env' ? { from: 'env', name: arg, pos: v.pos } : { from: 'file', path: arg, pos: v.pos };
    }
    this.#wrong(attribute, 'env("NAME") or file("path") (secrets are never written in the policy itself)');
    return undefined;
  }

  blocks(type: string): HclBlock[] {
    this.#knownBlocks.add(type);
    return this.body.blocks.filter((b) => b.type === type);
  }

  /** At most one block of `type`. */
  singleBlock(type: string): HclBlock | undefined {
    const found = this.blocks(type);
    for (const extra of found.slice(1)) this.diagnostics.error(extra.pos, `${this.what}: only one "${type}" block is allowed`);
    const block = found[0];
    if (block && block.labels.length > 0) {
      this.diagnostics.error(block.labels[0]!.pos, `${this.what}: "${type}" block takes no labels`);
    }
    return block;
  }

  finish(): void {
    for (const attribute of this.body.attributes) {
      if (!this.#known.has(attribute.name)) {
        this.diagnostics.error(attribute.pos, `${this.what}: unknown field "${attribute.name}"`);
      }
    }
    for (const block of this.body.blocks) {
      if (!this.#knownBlocks.has(block.type)) {
        this.diagnostics.error(block.pos, `${this.what}: unknown block "${block.type}"`);
      }
    }
  }
}
