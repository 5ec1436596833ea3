// `npm run build -w @relaypacs/relay`: bundles the relay (server/src/cli.ts) with esbuild into
// server/dist/cli.js, which server/bin/relaypacs-relay.js runs when there are no sources (an
// installed package, the container image) or RELAYPACS_RELAY_BUILD=dist. The workspace packages it
// uses (@relaypacs/dicom) are bundled in; npm packages stay outside, loaded from node_modules.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { nodeProgramBundle } from './esbuild-workspace-packages.js';

const root = join(import.meta.dirname, '..');
export const RELAY_BUNDLE = join(root, 'server', 'dist', 'cli.js');

export async function buildRelay(): Promise<string> {
  await rm(join(root, 'server', 'dist'), { recursive: true, force: true });
  await build(nodeProgramBundle('server/src/cli.ts', RELAY_BUNDLE, 'node24'));
  return RELAY_BUNDLE;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) console.log(await buildRelay());
