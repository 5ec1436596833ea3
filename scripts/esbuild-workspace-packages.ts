import type { Plugin } from 'esbuild';

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
