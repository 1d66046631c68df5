/**
 * In-memory plumbing for session unit tests: a duplex pair (two ends of one pipe), and a small
 * scripted Postgres backend built from the codec's encoders. It follows the server's rules that
 * matter to a relay: responses in order, an error in an extended batch skips to Sync, an error
 * inside a transaction block makes it 'E' until ROLLBACK, an Execute of an unknown portal fails
 * with 34000, and it can hold its answers back (`hold()` / `release()`) so tests can pipeline.
 */
import { Duplex, PassThrough } from 'node:stream';
import {
  encodeBindComplete,
  encodeCloseComplete,
  encodeCommandComplete,
  encodeCopyResponse,
  encodeDataRow,
  encodeErrorResponse,
  encodeNoData,
  encodeParseComplete,
  encodeParameterStatus,
  encodeReadyForQuery,
  encodeRowDescription,
  FrontendParser,
  BackendParser,
  type BackendEvent,
  type FrontendEvent,
  type TransactionStatus,
} from '../../../protocols/postgres/codec/index.js';

/** Two connected duplex ends: what one writes, the other reads. */
export function duplexPair(): [Duplex, Duplex] {
  const ab = new PassThrough();
  const ba = new PassThrough();
  const a = Duplex.from({ readable: ba, writable: ab });
  const b = Duplex.from({ readable: ab, writable: ba });
  return [a, b];
}

const rowDescription = encodeRowDescription([{ name: 'x', tableOid: 0, columnAttribute: 0, typeOid: 23, typeSize: 4, typeModifier: -1, format: 0 }]);

export class FakeBackend {
  readonly received: FrontendEvent[] = [];
  readonly #end: Duplex;
  readonly #parser = new FrontendParser({ phase: 'typed' });
  #status: TransactionStatus = 'I';
  #skipping = false;
  #held: Uint8Array[] | undefined;
  readonly #portals = new Map<string, string>();
  readonly #statements = new Map<string, string>();
  ended = false;

  constructor(end: Duplex) {
    this.#end = end;
    end.on('data', (chunk: Buffer) => {
      for (const m of this.#parser.push(chunk)) this.#on(m);
    });
    end.on('end', () => {
      this.ended = true;
      end.end();
    });
  }

  get status(): TransactionStatus {
    return this.#status;
  }

  /** Queries and statement texts received, in order. */
  texts(): string[] {
    return this.received.flatMap((m) => (m.type === 'Query' || m.type === 'Parse' ? [m.query] : []));
  }

  types(): string[] {
    return this.received.map((m) => m.type);
  }

  /** ParameterStatus messages owed at the next ReadyForQuery. */
  readonly #report: Uint8Array[] = [];
  /** In copy-in (COPY ... FROM STDIN): started by a Query or an Execute, with the rows so far. */
  #copy: { from: 'query' | 'execute'; rows: number } | undefined;

  hold(): void {
    this.#held ??= [];
  }

  release(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    if (held.length) this.#end.write(Buffer.concat(held));
  }

  #send(...parts: Uint8Array[]): void {
    if (this.#held) this.#held.push(...parts);
    else this.#end.write(Buffer.concat(parts));
  }

  #error(code: string, message: string): void {
    this.#send(encodeErrorResponse({ severity: 'ERROR', code, message }));
    if (this.#status === 'T') this.#status = 'E';
  }

  /** Runs one statement; returns false if it failed. */
  #run(text: string, portal = false): boolean {
    const t = text.trim().replace(/;$/, '').toUpperCase();
    if (this.#status === 'E' && !/^(ROLLBACK|COMMIT)/.test(t)) {
      this.#error('25P02', 'current transaction is aborted, commands ignored until end of transaction block');
      return false;
    }
    if (t === 'BEGIN') {
      this.#status = 'T';
      this.#send(encodeCommandComplete('BEGIN'));
    } else if (t === 'ROLLBACK' || t === 'COMMIT') {
      this.#status = 'I';
      this.#send(encodeCommandComplete(t));
    } else if (t.includes('SCS_OFF()')) {
      // A function that turns standard_conforming_strings off: reported at the next ReadyForQuery, as Postgres does.
      this.#report.push(encodeParameterStatus('standard_conforming_strings', 'off'));
      if (!portal) this.#send(rowDescription);
      this.#send(encodeDataRow([Buffer.from('')]), encodeCommandComplete('SELECT 1'));
    } else if (t.includes('NO_SUCH_TABLE')) {
      this.#error('42P01', 'relation "no_such_table" does not exist');
      return false;
    } else if (t.includes('1/0')) {
      this.#error('22012', 'division by zero');
      return false;
    } else if (t.startsWith('SELECT')) {
      if (!portal) this.#send(rowDescription);
      this.#send(encodeDataRow([Buffer.from('1')]), encodeCommandComplete('SELECT 1'));
    } else {
      const verb = t.split(/\s+/)[0] ?? '';
      this.#send(encodeCommandComplete(verb === 'DELETE' || verb === 'UPDATE' ? `${verb} 3` : verb));
    }
    return true;
  }

  /** Copy-in as Postgres does it: Sync and Flush ignored, anything else but copy messages an error. */
  #onCopy(m: FrontendEvent, copy: { from: 'query' | 'execute'; rows: number }): void {
    if (m.type === 'Sync' || m.type === 'Flush') return;
    if (m.type === 'CopyData') {
      copy.rows += 1;
      return;
    }
    this.#copy = undefined;
    if (m.type === 'CopyDone') this.#send(encodeCommandComplete(`COPY ${copy.rows}`));
    else this.#error(m.type === 'CopyFail' ? '57014' : '08P01', m.type === 'CopyFail' ? 'COPY from stdin failed' : `unexpected message type during COPY from stdin`);
    if (copy.from === 'query') this.#send(...this.#report.splice(0), encodeReadyForQuery(this.#status));
    else if (m.type !== 'CopyDone') this.#skipping = true;
  }

  #on(m: FrontendEvent): void {
    this.received.push(m);
    if (this.#copy) return this.#onCopy(m, this.#copy);
    if (m.type === 'Sync') {
      this.#skipping = false;
      if (this.#status === 'I') this.#portals.delete('');
      this.#send(...this.#report.splice(0), encodeReadyForQuery(this.#status));
      return;
    }
    if (m.type === 'Terminate') {
      this.#end.end();
      return;
    }
    if (this.#skipping) return;
    switch (m.type) {
      case 'Query':
        if (/^\s*COPY .* FROM STDIN/i.test(m.query) && !m.query.includes('no_such_table')) {
          this.#send(encodeCopyResponse('CopyInResponse', 0, [0]));
          this.#copy = { from: 'query', rows: 0 };
          return;
        }
        for (const stmt of m.query.split(';').filter((s) => s.trim())) if (!this.#run(stmt)) break;
        this.#send(...this.#report.splice(0), encodeReadyForQuery(this.#status));
        return;
      case 'Parse':
        if (m.statement !== '' && this.#statements.has(m.statement)) {
          this.#error('42P05', `prepared statement "${m.statement}" already exists`);
          this.#skipping = true;
          return;
        }
        if (m.query.includes('no_such_table')) {
          this.#error('42P01', 'relation "no_such_table" does not exist');
          this.#skipping = true;
          return;
        }
        this.#statements.set(m.statement, m.query);
        this.#send(encodeParseComplete());
        return;
      case 'Bind': {
        const text = this.#statements.get(m.statement);
        if (text === undefined) {
          this.#error('26000', `prepared statement "${m.statement}" does not exist`);
          this.#skipping = true;
          return;
        }
        this.#portals.set(m.portal, text);
        this.#send(encodeBindComplete());
        return;
      }
      case 'Describe':
        this.#send(encodeNoData());
        return;
      case 'Execute': {
        const text = this.#portals.get(m.portal);
        if (text === undefined) {
          this.#error('34000', `portal "${m.portal}" does not exist`);
          this.#skipping = true;
          return;
        }
        if (/^\s*COPY .* FROM STDIN/i.test(text)) {
          this.#send(encodeCopyResponse('CopyInResponse', 0, [0]));
          this.#copy = { from: 'execute', rows: 0 };
          return;
        }
        if (!this.#run(text, true)) this.#skipping = true;
        return;
      }
      case 'Close':
        if (m.target === 'statement') this.#statements.delete(m.name);
        else this.#portals.delete(m.name);
        this.#send(encodeCloseComplete());
        return;
      default:
        return;
    }
  }
}

/** Collects what the agent end receives, parsed. */
export class AgentEnd {
  readonly messages: BackendEvent[] = [];
  readonly #parser = new BackendParser({ copy: true });
  readonly #waiters: Array<() => void> = [];
  closed = false;

  constructor(readonly end: Duplex) {
    end.on('data', (chunk: Buffer) => {
      this.messages.push(...this.#parser.push(chunk));
      for (const w of this.#waiters.splice(0)) w();
    });
    end.on('error', () => undefined);
    end.on('end', () => {
      this.closed = true;
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  send(...parts: Uint8Array[]): void {
    this.end.write(Buffer.concat(parts));
  }

  /** Waits until `n` ReadyForQuery messages have arrived (or the stream ends, or 2 s pass). */
  async readyCount(n: number, timeoutMs = 2000): Promise<BackendEvent[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.filter((m) => m.type === 'ReadyForQuery').length < n && !this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return this.messages;
  }

  /** Compact form: type letters with details: E(42501), Z(I), C(SELECT 1). */
  summary(): string[] {
    return this.messages.map((m) => {
      switch (m.type) {
        case 'ErrorResponse':
          return `E(${m.fields.get('C')})`;
        case 'ReadyForQuery':
          return `Z(${m.status})`;
        case 'CommandComplete':
          return `C(${m.tag})`;
        case 'ParseComplete':
          return '1';
        case 'BindComplete':
          return '2';
        case 'DataRow':
          return 'D';
        case 'RowDescription':
          return 'T';
        case 'NoData':
          return 'n';
        default:
          return m.type;
      }
    });
  }
}
