/** Process entry of the `bailiff` command (bin/bailiff.js runs the compiled copy of this file). */
import { main } from './cli.js';

const controller = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => controller.abort());
main(process.argv.slice(2), {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  cwd: process.cwd(),
  env: process.env,
  signal: controller.signal,
}).then(
  (code) => { process.exitCode = code; },
  (error: unknown) => {
    process.stderr.write(`bailiff: internal error: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 70;
  },
);
