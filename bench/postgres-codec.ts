/**
 * Postgres codec throughput on the captured `pgbench -M extended` session (both directions),
 * against a baseline measured in the same run: a bare loop that reads each 5-byte header and
 * skips the body (the least any framer can do). The ratio says what full parsing costs on top
 * of framing: decoded fields, strings, per-message objects and `raw` views.
 *
 *   node --import tsx bench/postgres-codec.ts
 */
import { BackendParser, FrontendParser } from '../protocols/postgres/codec/index.js';
import { chunked, session } from '../test/protocols/postgres/fixtures/sessions.js';

const SECONDS = 1;

function rate(fn: () => number): { perSecond: number; units: number } {
  for (let i = 0; i < 20; i++) fn(); // warm up
  let runs = 0;
  let units = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    units += fn();
    runs++;
    elapsed = (performance.now() - start) / 1000;
  } while (elapsed < SECONDS);
  return { perSecond: runs / elapsed, units: units / runs };
}

/** The baseline: walk the headers, count messages, touch nothing else. */
function skipHeaders(b: Uint8Array): number {
  let n = 0;
  let pos = 0;
  while (pos + 5 <= b.length) {
    const len = ((b[pos + 1]! << 24) | (b[pos + 2]! << 16) | (b[pos + 3]! << 8) | b[pos + 4]!) >>> 0;
    pos += 1 + len;
    n++;
  }
  return n;
}

const fmt = (x: number): string => x.toFixed(0).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

export function main(): Record<string, number> {
  const s = session('pgbench-extended');
  // Typed parts only, so the baseline can skip headers blindly: after the startup packets on
  // the frontend, after the 1-byte SSL answer on the backend.
  const startup = new FrontendParser().push(s.frontend);
  const firstTyped = startup.findIndex((m) => m.type === 'PasswordMessage');
  const feOffset = startup.slice(0, firstTyped).reduce((n, m) => n + m.raw.length, 0);
  const streams = {
    frontend: {
      bytes: s.frontend.subarray(feOffset),
      make: () => new FrontendParser({ phase: 'typed' }),
      // The recorded chunking covers the whole stream, startup included.
      chunks: chunked(s.frontend, s.frontendChunks),
      makeFromStart: () => new FrontendParser(),
    },
    backend: {
      bytes: s.backend.subarray(1),
      make: () => new BackendParser(),
      chunks: chunked(s.backend, s.backendChunks),
      makeFromStart: () => {
        const p = new BackendParser();
        p.expectEncryptionResponse('ssl');
        return p;
      },
    },
  };
  const results: Record<string, number> = {};
  let sink = 0;
  for (const [dir, st] of Object.entries(streams)) {
    const mb = st.bytes.length / 1e6;
    const chunks = st.chunks;
    const base = rate(() => skipHeaders(st.bytes));
    const whole = rate(() => {
      const out = st.make().push(st.bytes);
      sink += out.length;
      return out.length;
    });
    const recorded = rate(() => {
      const p = st.makeFromStart();
      let n = 0;
      for (const c of chunks) n += p.push(c).length;
      return n;
    });
    if (whole.units !== base.units) throw new Error(`${dir}: parser saw ${whole.units} messages, baseline ${base.units}`);
    const msgs = base.units;
    console.log(`${dir}: ${fmt(st.bytes.length)} bytes, ${fmt(msgs)} messages, ${chunks.length} recorded chunks`);
    console.log(`  baseline: skip 5-byte headers       ${fmt(base.perSecond * msgs)} msg/s  ${(base.perSecond * mb).toFixed(0)} MB/s`);
    console.log(`  parse, one chunk                    ${fmt(whole.perSecond * msgs)} msg/s  ${(whole.perSecond * mb).toFixed(0)} MB/s   ratio ${(base.perSecond / whole.perSecond).toFixed(1)}x baseline`);
    // Whole session incl. startup and authentication, so per-run time is compared, not messages.
    console.log(`  parse, chunks as the socket gave    ${fmt(recorded.perSecond * recorded.units)} msg/s  ${(recorded.perSecond * mb).toFixed(0)} MB/s   ratio ${(base.perSecond / recorded.perSecond).toFixed(1)}x baseline`);
    results[`${dir}BaselineMsgPerSec`] = base.perSecond * msgs;
    results[`${dir}ParseMsgPerSec`] = whole.perSecond * msgs;
    results[`${dir}RecordedChunksMsgPerSec`] = recorded.perSecond * recorded.units;
    results[`${dir}Ratio`] = base.perSecond / whole.perSecond;
  }
  if (sink === 0) throw new Error('nothing measured');
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) main();
