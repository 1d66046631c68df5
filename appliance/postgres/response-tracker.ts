/**
 * Which upstream response answers which forwarded message (PostgreSQL docs, "Extended Query"
 * and "Pipelining"). Responses come back in the order messages were sent, and every Query or
 * Sync is answered by exactly one ReadyForQuery, so the messages sent up to a Query/Sync form a
 * *unit*, and a unit's responses end at its ReadyForQuery. Inside a unit, the messages we care
 * about are *items*:
 *   execute   an Execute, or one top-level statement of a Query: ends at CommandComplete,
 *             EmptyQueryResponse, PortalSuspended or ErrorResponse (its audit record completes)
 *   parse     a Parse: ParseComplete or ErrorResponse (a named statement's facts stay or go)
 *   sentinel  stands where a denied message would have been: an Execute of a portal that
 *             cannot exist, which makes the server fail exactly there, as it would have failed
 *             the denied message itself. Its ErrorResponse (34000, naming our portal) is
 *             replaced by the denial. So a denial reaches the agent after the answers to
 *             everything forwarded before it, the server aborts the batch or transaction as
 *             for any error, skips to the Sync, and reports the true transaction status.
 *             If the batch had already failed, the server skips the sentinel silently, just
 *             as Postgres would have skipped the denied message: no denial is shown.
 * An ErrorResponse ends the head item; the server then skips to the end of the unit, so at
 * ReadyForQuery the items left were skipped.
 *
 * Pure: no I/O, no clock. `onBackend` says what to relay for each upstream message.
 */
import { BE, noticeFields, type BackendEvent, type TransactionStatus } from '../../protocols/postgres/codec/index.js';

export type ItemOutcome =
  | { kind: 'complete'; tag: string; rows: number }
  | { kind: 'empty' }
  | { kind: 'suspended'; rows: number }
  | { kind: 'error'; code: string; message: string; rows: number }
  | { kind: 'skipped' };

export type TrackedItem =
  | { kind: 'execute'; done: (outcome: ItemOutcome) => void }
  | { kind: 'parse'; done: (ok: boolean) => void }
  | { kind: 'sentinel'; portal: string; replacement: Uint8Array; done?: (shown: boolean) => void };

interface Item {
  item: TrackedItem;
  rows: number;
}

interface Unit {
  items: Item[];
}

/** relay: pass the message's bytes on; replace: send these bytes instead. */
export type Relay = { kind: 'relay' } | { kind: 'replace'; bytes: Uint8Array };

const RELAY: Relay = Object.freeze({ kind: 'relay' });
const SENTINEL_SQLSTATE = '34000';

/** Rows from a command tag: "SELECT 5", "INSERT 0 5", "DELETE 12", "COPY 3"; 0 when it has none. */
export function tagRows(tag: string): number {
  const m = / (\d+)$/.exec(tag);
  return m ? Number(m[1]) : 0;
}

export class ResponseTracker {
  /** Oldest first; the last one is open (still collecting items, no ReadyForQuery owed yet). */
  readonly #units: Unit[] = [{ items: [] }];
  #status: TransactionStatus;
  /** Messages that did not fit what we sent (counted, never fatal: relaying stays byte-exact). */
  unmatched = 0;

  constructor(status: TransactionStatus = 'I') {
    this.#status = status;
  }

  /** The transaction status of the last ReadyForQuery. */
  get status(): TransactionStatus {
    return this.#status;
  }

  /** ReadyForQuery answers still owed by the upstream. */
  get owed(): number {
    return this.#units.length - 1;
  }

  /** Items waiting for their answers (all units). */
  get waiting(): number {
    let n = 0;
    for (const u of this.#units) n += u.items.length;
    return n;
  }

  add(item: TrackedItem): void {
    this.#units[this.#units.length - 1]!.items.push({ item, rows: 0 });
  }

  /** A Query or Sync was sent: the open unit now owes a ReadyForQuery. */
  closeUnit(): void {
    this.#units.push({ items: [] });
  }

  onBackend(m: BackendEvent): Relay {
    const unit = this.#units[0]!;
    const head = unit.items[0];
    switch (m.type) {
      case 'DataRow':
        if (head) head.rows++;
        return RELAY;
      case 'MessagePart':
        if (m.first && m.typeByte === BE.DataRow && head) head.rows++;
        return RELAY;
      case 'ParseComplete':
        if (head?.item.kind === 'parse') {
          unit.items.shift();
          head.item.done(true);
        } else this.unmatched++;
        return RELAY;
      case 'CommandComplete':
        return this.#finishExecute(unit, { kind: 'complete', tag: m.tag, rows: tagRows(m.tag) || (head?.rows ?? 0) });
      case 'EmptyQueryResponse':
        return this.#finishExecute(unit, { kind: 'empty' });
      case 'PortalSuspended':
        return this.#finishExecute(unit, { kind: 'suspended', rows: head?.rows ?? 0 });
      case 'ErrorResponse':
        return this.#onError(unit, m.fields);
      case 'ReadyForQuery':
        this.#status = m.status;
        if (this.#units.length === 1) {
          // A ReadyForQuery nobody asked for: relay it, keep our items.
          this.unmatched++;
          return RELAY;
        }
        this.#units.shift();
        for (const left of unit.items) settle(left, { kind: 'skipped' });
        return RELAY;
      default:
        return RELAY;
    }
  }

  #finishExecute(unit: Unit, outcome: ItemOutcome): Relay {
    const head = unit.items[0];
    if (head?.item.kind !== 'execute') {
      this.unmatched++;
      return RELAY;
    }
    unit.items.shift();
    head.item.done(outcome);
    return RELAY;
  }

  #onError(unit: Unit, fields: ReadonlyMap<string, string>): Relay {
    let code = '';
    let message = '';
    let fatal = false;
    try {
      const f = noticeFields(fields);
      code = f.code;
      message = f.message;
      fatal = (f.severityNonLocalized ?? f.severity) !== 'ERROR';
    } catch {
      // A malformed ErrorResponse is still an error for the head item.
    }
    const head = unit.items[0];
    if (!head) {
      this.unmatched += fatal ? 0 : 1;
      return RELAY;
    }
    if (head.item.kind === 'sentinel') {
      if (code === SENTINEL_SQLSTATE && message.includes(head.item.portal)) {
        unit.items.shift();
        head.item.done?.(true);
        return { kind: 'replace', bytes: head.item.replacement };
      }
      // An earlier message of the batch failed: the server will skip our sentinel (settled at ReadyForQuery).
      return RELAY;
    }
    unit.items.shift();
    settle(head, { kind: 'error', code, message, rows: head.rows });
    return RELAY;
  }

  /** The session is over: every item still waiting is settled as skipped. */
  abandon(): void {
    for (const unit of this.#units.splice(0)) for (const left of unit.items) settle(left, { kind: 'skipped' });
    this.#units.push({ items: [] });
  }
}

function settle(left: Item, outcome: ItemOutcome): void {
  const item = left.item;
  if (item.kind === 'execute') item.done(outcome.kind === 'error' ? outcome : outcome);
  else if (item.kind === 'parse') item.done(false);
  else item.done?.(false);
}
