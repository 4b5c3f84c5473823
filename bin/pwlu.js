#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (npm install runs the TypeScript build).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('pwlu: not built yet: run `npm install` (or `npm run build`) in the pwlu folder first\n');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv);
