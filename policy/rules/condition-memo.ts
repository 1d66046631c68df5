/**
 * Condition outcomes remembered per prepared rule list, so that `sql.verb in [...]` is evaluated
 * once per verb instead of once per statement.
 *
 * Why this is exact: a condition's outcome is a pure function of the fact values it reads
 * (cel-js has no side effects; sets.* and re.matches are pure; `reads` from fact-reads.ts
 * over-approximates what the program can touch). So an outcome is remembered under the exact
 * values of those reads, and only conditions whose every read can be compared exactly take part:
 *   - reads of a leaf fact (`sql.verb`, `peer.name`, `profile`) of type string, int,
 *     list<string> or map<string, list<string>>; never `now` (a timestamp, new every request),
 *     never `dyn` (http.body_json), never a whole root (`dyn(sql)`);
 *   - values taken from the converted facts (`toCelFacts`), the very objects the program reads.
 * Each leaf value is interned to a number: strings and ints by value (a Map compares them
 * exactly), lists and maps by a self-delimiting text (`<count>[` then `<length>:<chars>` per
 * string), so equal numbers mean equal values. Numbers are never reused, even after a clear.
 * Conditions with the same reads form a group; a group's key is the numbers of its leaves, and
 * its row holds one slot per condition, filled when a request first reaches that condition.
 *
 * Only `match` and `no-match` are remembered. An unevaluable outcome (unknown fact, evaluation
 * error) is recomputed every time: its detail can depend on which facts are unknown, and an
 * error such as a stack overflow is not a property of the values.
 *
 * Unknown and invalid facts: a request with any of them gets an activation whose unknown facts
 * throw when read (unknown-facts.ts). A leaf takes part for such a request only when reading it
 * in that activation gives the very value it was interned from (no throwing getter, checked with
 * property descriptors); a condition reading only such leaves reads exactly what an unpoisoned
 * request would, so its remembered outcome is the one it would compute. Such requests read rows
 * but never write to the memo.
 *
 * Memory is bounded per list (entries and characters, cleared whole when full), values longer
 * than MEMO_LIMITS.maxValueLength are not remembered, and a group whose keys rarely repeat (it
 * reads `sql.statement`, say) pauses itself for a while instead of filling the memo with one-offs.
 * The memo belongs to the prepared list, and a reload prepares new lists: a policy never sees
 * another policy's outcomes.
 */
import type { ParseResult } from '@marcbachmann/cel-js';
import type { CompiledCondition } from './compile.js';
import type { FactRecord } from './environment.js';
import { runProgram, type ConditionOutcome } from './evaluate.js';
import { familySchema, type FactType } from './facts.js';
import type { UnknownCause } from './unknown-facts.js';

export const MEMO_LIMITS = Object.freeze({
  /** Values (or texts of lists and maps) longer than this are evaluated, not remembered. */
  maxValueLength: 2048,
  /** Rows plus interned values per rule list before the whole memo is cleared. */
  maxEntries: 8192,
  /** Characters of interned values per rule list before the whole memo is cleared. */
  maxChars: 512 * 1024,
  /** Lookups per group over which its hit rate is judged. */
  window: 256,
  /** Below this many hits in a window, the group pauses. */
  minHits: 64,
  /** Lookups a paused group lets through unremembered before it tries again. */
  pause: 16_384,
});

/** What decide() evaluates a condition against (see decide.ts Activations). */
export interface MemoActivation {
  readonly context: Readonly<Record<string, unknown>>;
  readonly poisoned: ReadonlyMap<string, UnknownCause>;
  /** The converted facts the context was made from. */
  readonly facts: Readonly<Record<string, unknown>>;
}

/** The value of a leaf as an exact Map key, or undefined when it is not remembered. */
type KeyOf = (value: unknown) => string | bigint | undefined;

/** One fact leaf read by some group, with the numbers its values were interned to. */
class Leaf {
  readonly ids = new Map<string | bigint, number>();
  next = 0;
  /**
   * The last value looked up and its number (-1: none), compared element by element before
   * building and hashing a key: consecutive requests mostly repeat their shape. A number always
   * denotes the value it was made for, so this pair stays true across clears.
   */
  lastValue: string | bigint | readonly string[] | undefined = undefined;
  lastId = -1;
  constructor(
    readonly root: string,
    /** undefined: a top-level fact (`profile`). */
    readonly field: string | undefined,
    readonly keyOf: KeyOf,
  ) {}
}

/** The outcomes of one key, one slot per condition of the group. */
type Row = (ConditionOutcome | undefined)[];

class Group {
  readonly rows = new Map<number | string, Row>();
  lookups = 0;
  hits = 0;
  paused = 0;
  constructor(
    readonly leaves: readonly number[],
    readonly width: number,
  ) {}
}

/** Where a condition's outcome lives: its group and its slot in the group's rows. */
export interface MemoSlot {
  readonly group: number;
  readonly index: number;
}

function stringKey(v: unknown): string | undefined {
  return typeof v === 'string' && v.length <= MEMO_LIMITS.maxValueLength ? v : undefined;
}

function intKey(v: unknown): bigint | undefined {
  return typeof v === 'bigint' ? v : undefined;
}

/** `<count>[` then `<length>:<chars>` per string: decodes one way only. */
function listText(v: unknown): string | undefined {
  if (!Array.isArray(v)) return undefined;
  let text = `${v.length}[`;
  for (const item of v as unknown[]) {
    if (typeof item !== 'string') return undefined;
    text += `${item.length}:${item}`;
    if (text.length > MEMO_LIMITS.maxValueLength) return undefined;
  }
  return text;
}

/** `<count>{` then key and list per entry, in map order (another order is another key: a miss). */
function multiMapText(v: unknown): string | undefined {
  if (!(v instanceof Map)) return undefined;
  let text = `${v.size}{`;
  for (const [key, list] of v as Map<unknown, unknown>) {
    if (typeof key !== 'string') return undefined;
    const l = listText(list);
    if (l === undefined) return undefined;
    text += `${key.length}:${key}${l}`;
    if (text.length > MEMO_LIMITS.maxValueLength) return undefined;
  }
  return text;
}

function keyFunction(type: FactType): KeyOf | undefined {
  switch (type) {
    case 'string':
      return stringKey;
    case 'int':
      return intKey;
    case 'list<string>':
      return listText;
    case 'map<string, list<string>>':
      return multiMapText;
    case 'timestamp':
    case 'dyn':
      return undefined;
  }
}

/** The leaves of a condition's reads, or undefined when one of them cannot be compared exactly. */
function leavesOf(condition: CompiledCondition): { root: string; field: string | undefined; keyOf: KeyOf }[] | undefined {
  const schema = familySchema(condition.family);
  const leaves: { root: string; field: string | undefined; keyOf: KeyOf }[] = [];
  for (const read of [...condition.reads].sort()) {
    const dot = read.indexOf('.');
    if (dot < 0) {
      const scalar = schema.scalars.find((s) => s.root === read);
      const keyOf = scalar ? keyFunction(scalar.type) : undefined;
      if (!keyOf) return undefined;
      leaves.push({ root: read, field: undefined, keyOf });
      continue;
    }
    const root = read.slice(0, dot);
    const field = read.slice(dot + 1);
    const group = schema.groups.find((g) => g.root === root);
    const type = group && Object.prototype.hasOwnProperty.call(group.fields, field) ? group.fields[field] : undefined;
    const keyOf = type ? keyFunction(type) : undefined;
    if (!keyOf) return undefined;
    leaves.push({ root, field, keyOf });
  }
  return leaves.length > 0 ? leaves : undefined; // reading nothing: constant, and cheap anyway
}

/** Per prepared rule list: the groups of conditions that can be remembered, and their rows. */
export class ConditionMemo {
  readonly #leaves: Leaf[] = [];
  readonly #groups: Group[] = [];
  #entries = 0;
  #chars = 0;

  /** Assign slots to conditions; undefined for those that are never remembered. */
  static build(conditions: readonly (CompiledCondition | undefined)[]): { memo: ConditionMemo; slots: (MemoSlot | undefined)[] } {
    const memo = new ConditionMemo();
    const leafIndex = new Map<string, number>();
    const groups = new Map<string, { index: number; leaves: number[]; width: number }>();
    const slots = conditions.map((condition): MemoSlot | undefined => {
      if (!condition) return undefined;
      const leaves = leavesOf(condition);
      if (!leaves) return undefined;
      const ids = leaves.map(({ root, field, keyOf }) => {
        const name = `${condition.family}|${field === undefined ? root : `${root}.${field}`}`;
        let i = leafIndex.get(name);
        if (i === undefined) {
          i = memo.#leaves.length;
          leafIndex.set(name, i);
          memo.#leaves.push(new Leaf(root, field, keyOf));
        }
        return i;
      });
      const name = ids.join(',');
      let g = groups.get(name);
      if (!g) {
        g = { index: groups.size, leaves: ids, width: 0 };
        groups.set(name, g);
      }
      return { group: g.index, index: g.width++ };
    });
    for (const g of groups.values()) memo.#groups.push(new Group(g.leaves, g.width));
    return { memo, slots };
  }

  get groupCount(): number {
    return this.#groups.length;
  }

  /** For tests and the operator: what the memo holds right now. */
  stats(): { groups: number; leaves: number; entries: number; chars: number; paused: number } {
    return { groups: this.#groups.length, leaves: this.#leaves.length, entries: this.#entries, chars: this.#chars, paused: this.#groups.filter((g) => g.paused > 0).length };
  }

  /** Per-request lookups. */
  lookup(): MemoLookup {
    return new MemoLookup(this);
  }

  #clear(): void {
    for (const g of this.#groups) g.rows.clear();
    for (const l of this.#leaves) l.ids.clear();
    this.#entries = 0;
    this.#chars = 0;
  }

  #charge(entries: number, chars: number): void {
    if (this.#entries + entries > MEMO_LIMITS.maxEntries || this.#chars + chars > MEMO_LIMITS.maxChars) this.#clear();
    this.#entries += entries;
    this.#chars += chars;
  }

  /**
   * The number of a leaf's value in this request, or undefined when it is not remembered (too
   * long, unknown in this activation). Interning happens only for pristine activations.
   */
  leafId(index: number, activation: MemoActivation, pristine: boolean): number | undefined {
    const leaf = this.#leaves[index]!;
    if (!pristine && !readsSameValue(leaf, activation.facts, activation.context)) return undefined;
    const holder = leaf.field === undefined ? undefined : activation.facts[leaf.root];
    const value =
      leaf.field === undefined ? activation.facts[leaf.root] : typeof holder === 'object' && holder !== null ? (holder as FactRecord)[leaf.field] : undefined;
    if (leaf.lastId >= 0 && sameValue(leaf.lastValue, value)) return leaf.lastId;
    const key = leaf.keyOf(value);
    if (key === undefined) return undefined;
    let id = leaf.ids.get(key);
    if (id === undefined) {
      if (!pristine) return undefined;
      id = leaf.next++;
      this.#charge(1, typeof key === 'string' ? key.length : 32);
      leaf.ids.set(key, id);
    }
    // Only values that got a key are kept: strings and lists within the length bound, ints.
    if (typeof value === 'string' || typeof value === 'bigint') leaf.lastValue = value;
    else if (Array.isArray(value)) leaf.lastValue = Object.freeze(value.slice() as string[]);
    else return id; // a map: no shortcut
    leaf.lastId = id;
    return id;
  }

  /**
   * The row for a key of a group: found, made (pristine), or undefined (the group just paused).
   * Row keys are a few numbers: they count as entries, not characters.
   */
  row(index: number, key: number | string, pristine: boolean): Row | undefined {
    const group = this.#groups[index]!;
    group.lookups++;
    let cells = group.rows.get(key);
    if (cells) group.hits++;
    if (group.lookups >= MEMO_LIMITS.window) {
      const rare = group.hits < MEMO_LIMITS.minHits;
      group.lookups = 0;
      group.hits = 0;
      if (rare) {
        group.paused = MEMO_LIMITS.pause;
        this.#entries -= group.rows.size;
        group.rows.clear();
        return undefined;
      }
    }
    if (cells || !pristine) return cells;
    cells = new Array<ConditionOutcome | undefined>(group.width);
    this.#charge(1, 0);
    group.rows.set(key, cells);
    return cells;
  }

  /** Whether a group takes part in this request; a paused group counts down its pause. */
  active(index: number): boolean {
    const group = this.#groups[index]!;
    if (group.paused === 0) return true;
    group.paused--;
    return false;
  }

  leavesOf(index: number): readonly number[] {
    return this.#groups[index]!.leaves;
  }
}

const NOT_REMEMBERED = null;

/**
 * One request's view of the memo: leaf numbers and rows are looked up once per request, then
 * every condition of a group reads its slot.
 */
export class MemoLookup {
  readonly #memo: ConditionMemo;
  /** By leaf: its number in this request; null: not remembered; undefined: not looked up yet. */
  readonly #ids: (number | null | undefined)[] = [];
  /** By group: its row; null: not remembered for this request. */
  readonly #rows: (Row | null | undefined)[] = [];
  /** By group: whether outcomes computed now may be stored in its row. */
  readonly #writable: boolean[] = [];

  constructor(memo: ConditionMemo) {
    this.#memo = memo;
  }

  outcome(slot: MemoSlot, condition: CompiledCondition, program: ParseResult, activation: MemoActivation): ConditionOutcome {
    let row = this.#rows[slot.group];
    if (row === undefined) row = this.#row(slot.group, activation);
    if (row === NOT_REMEMBERED) return runProgram(condition, program, activation.context, activation.poisoned);
    const known = row[slot.index];
    if (known !== undefined) return known;
    const outcome = runProgram(condition, program, activation.context, activation.poisoned);
    if (this.#writable[slot.group] === true && outcome.kind !== 'unevaluable') row[slot.index] = outcome;
    return outcome;
  }

  #row(index: number, activation: MemoActivation): Row | null {
    const memo = this.#memo;
    this.#rows[index] = NOT_REMEMBERED;
    if (!memo.active(index)) return NOT_REMEMBERED;
    const pristine = activation.context === activation.facts;
    const leaves = memo.leavesOf(index);
    let first = -1;
    let key: number | string = -1;
    for (let i = 0; i < leaves.length; i++) {
      const leaf = leaves[i]!;
      let id = this.#ids[leaf];
      if (id === undefined) {
        id = memo.leafId(leaf, activation, pristine) ?? NOT_REMEMBERED;
        this.#ids[leaf] = id;
      }
      if (id === NOT_REMEMBERED) return NOT_REMEMBERED;
      if (i === 0) first = key = id;
      else if (i === 1 && leaves.length === 2 && first < PACK && id < PACK) key = first * PACK + id;
      else key = `${key},${id}`;
    }
    const row = memo.row(index, key, pristine);
    if (row === undefined) return NOT_REMEMBERED;
    this.#rows[index] = row;
    this.#writable[index] = pristine;
    return row;
  }
}

/**
 * Row keys, from the leaf numbers of a group: one leaf, its number; two leaves both below
 * 2^26, `a * 2^26 + b` (a safe integer: no string to build and hash); otherwise the numbers
 * joined by commas. Within a group every key has the same number of leaves, and each form is
 * injective on its own; a number never equals a string.
 */
const PACK = 2 ** 26;

/** Exact equality of a leaf value with the last one: the same string or int, or lists of the same strings. */
function sameValue(last: string | bigint | readonly string[] | undefined, value: unknown): boolean {
  if (typeof last === 'string' || typeof last === 'bigint') return last === value;
  if (last === undefined || !Array.isArray(value) || value.length !== last.length) return false;
  for (let i = 0; i < last.length; i++) if (value[i] !== last[i]) return false;
  return true;
}

/**
 * Does reading this leaf in the request's activation give the same value as in its converted
 * facts, without running a getter (an unknown fact)? Checked with property descriptors so that
 * nothing is read through a getter here.
 */
function readsSameValue(leaf: Leaf, facts: Readonly<Record<string, unknown>>, activation: Readonly<Record<string, unknown>>): boolean {
  const top = Object.getOwnPropertyDescriptor(activation, leaf.root);
  if (!top || !('value' in top)) return false;
  if (leaf.field === undefined) return top.value === facts[leaf.root];
  const record = top.value as unknown;
  const original = facts[leaf.root] as unknown;
  if (typeof record !== 'object' || record === null || typeof original !== 'object' || original === null) return false;
  const inner = Object.getOwnPropertyDescriptor(record, leaf.field);
  return inner !== undefined && 'value' in inner && inner.value === (original as FactRecord)[leaf.field];
}
