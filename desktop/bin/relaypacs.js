#!/usr/bin/env node
// Launches the relaypacs agent: the TypeScript sources through tsx in a checkout; an installed build
// (no src/, or RELAYPACS_AGENT_BUILD=dist) runs compiled code from out/.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/relaypacs.ts', import.meta.url);
if (existsSync(source) && process.env.RELAYPACS_AGENT_BUILD !== 'dist') {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import(new URL('../../out/cli/relaypacs.js', import.meta.url).href);
}
