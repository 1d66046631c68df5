/**
 * Child processes for end-to-end tests: started with a PID we keep, stopped by that PID (never by
 * name), every wait bounded in time.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface Running {
  child: ChildProcess;
  pid: number;
  output(): string; // stdout + stderr so far
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<void>;
}

export function start(command: string, args: string[], options: SpawnOptions = {}): Running {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  let output = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    for (const l of listeners) l();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => { exited = true; for (const l of listeners) l(); resolve(); }));
  return {
    child,
    pid: child.pid,
    output: () => output,
    waitFor(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = output.match(pattern);
          if (m) { done(); resolve(m); return; }
          if (exited) { done(); reject(new Error(`${command} exited before ${pattern}; output:\n${output}`)); }
        };
        const timer = setTimeout(() => { done(); reject(new Error(`timed out waiting for ${pattern} from ${command}; output:\n${output}`)); }, timeoutMs);
        const done = () => { clearTimeout(timer); listeners.delete(check); };
        listeners.add(check);
        check();
      });
    },
    async stop(signal = 'SIGTERM', timeoutMs = 5000) {
      if (exited) return;
      child.kill(signal);
      const timer = setTimeout(() => { if (!exited) child.kill('SIGKILL'); }, timeoutMs);
      await exit;
      clearTimeout(timer);
    },
  };
}

export async function run(command: string, args: string[], options: { timeoutMs?: number; input?: string; allowFail?: boolean } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const p = execFileP(command, args, { timeout: options.timeoutMs ?? 20_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' });
    if (options.input !== undefined) {
      p.child.stdin?.end(options.input);
    }
    const { stdout, stderr } = await p;
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number | string; stdout?: string; stderr?: string; message: string };
    const result = { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? e.message };
    if (options.allowFail) return result;
    throw new Error(`${command} ${args.join(' ')} failed (${e.code}): ${result.stderr}${result.stdout}`);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs every teardown step in order, each even when an earlier one failed (a failed appliance
 * stop must not leave the agent's namespace behind), then throws the first failure.
 */
export async function teardown(...steps: Array<() => unknown>): Promise<void> {
  let first: unknown;
  let failed = false;
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      if (!failed) first = error;
      failed = true;
    }
  }
  if (failed) throw first;
}
