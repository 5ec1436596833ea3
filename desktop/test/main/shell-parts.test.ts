// Small pure parts of the shell: where the built parts are.
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appPaths } from '../../src/main/app-paths.js';

describe('appPaths', () => {
  it('finds preload and renderer beside the built main', () => {
    const dist = resolve('/opt/relaypacs/resources/app.asar/desktop/dist');
    expect(appPaths(join(dist, 'main'))).toEqual({ distDir: dist, preload: join(dist, 'preload', 'preload.cjs'), rendererDir: join(dist, 'renderer') });
  });
});
