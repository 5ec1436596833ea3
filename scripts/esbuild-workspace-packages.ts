import { join } from 'node:path';
import type { BuildOptions, Plugin } from 'esbuild';

/**
 * esbuild's `packages: 'external'`, except for this repository's own workspace packages
 * (`@relaypacs/*`, e.g. packages/dicom): those export their TypeScript sources, which Node cannot
 * load from node_modules, so they are bundled; every other package is loaded from node_modules at
 * run time as before.
 */
export const bundleWorkspacePackagesOnly: Plugin = {
  name: 'bundle-workspace-packages-only',
  setup(build) {
    // Bare specifiers only: relative and absolute paths are the bundle's own files.
    build.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@relaypacs/') ? undefined : { path: args.path, external: true }));
  },
};

const root = join(import.meta.dirname, '..');

/**
 * One command-line program as one ES module for Node (the agent, the relay): the repository's code
 * and workspace packages inside, npm packages from node_modules, a linked source map.
 */
export function nodeProgramBundle(entry: string, outfile: string, target: `node${number}`): BuildOptions {
  return {
    entryPoints: [join(root, entry)],
    outfile,
    bundle: true,
    plugins: [bundleWorkspacePackagesOnly],
    platform: 'node',
    format: 'esm',
    target,
    sourcemap: 'linked',
    logLevel: 'warning',
    absWorkingDir: root,
  };
}
