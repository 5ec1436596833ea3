// `npm run build:agent`: bundles the headless agent (desktop/src/cli/relaypacs.ts) with esbuild into
// out/cli/relaypacs.js, which desktop/bin/relaypacs.js runs when there are no sources (an installed
// package) or RELAYPACS_AGENT_BUILD=dist (the benchmarks measure the agent as it would be deployed,
// not compiled on the fly by tsx). npm packages stay outside the bundle, loaded from node_modules;
// the workspace packages (@relaypacs/dicom) are bundled in.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { nodeProgramBundle } from './esbuild-workspace-packages.js';

const root = join(import.meta.dirname, '..');
export const AGENT_BUNDLE = join(root, 'out', 'cli', 'relaypacs.js');

export async function buildAgent(): Promise<string> {
  await build(nodeProgramBundle('desktop/src/cli/relaypacs.ts', AGENT_BUNDLE, 'node22'));
  return AGENT_BUNDLE;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) console.log(await buildAgent());
