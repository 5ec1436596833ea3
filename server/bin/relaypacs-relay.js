#!/usr/bin/env node
// Launches the relay. In a source checkout it runs the TypeScript sources through tsx, so a fresh
// clone runs without a build step; an installed package (no src/) or RELAYPACS_RELAY_BUILD=dist
// runs the compiled dist/ (npm run build -w @relaypacs/relay).
import { existsSync } from 'node:fs';

const source = new URL('../src/cli.ts', import.meta.url);
const compiled = new URL('../dist/cli.js', import.meta.url);
if (existsSync(source) && process.env.RELAYPACS_RELAY_BUILD !== 'dist') {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import(compiled.href);
}
