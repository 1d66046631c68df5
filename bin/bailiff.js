#!/usr/bin/env node
// Entry point of the `bailiff` command: runs the compiled CLI (`npm run build` makes dist/).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const compiled = fileURLToPath(new URL('../dist/appliance/main.js', import.meta.url));
if (!existsSync(compiled)) {
  process.stderr.write('bailiff: not built yet; run `npm run build` first\n');
  process.exit(70);
}
await import(pathToFileURL(compiled).href);
