// The icons in resources/ are what scripts/render-icons.ts draws, at the sizes electron-builder needs:
// icon.png of 1024 px (it makes the .ico and .icns from it) and the Linux NxN.png set.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { iconSvg, LINUX_ICON_SIZES, renderIconPng } from '../../render-icons.js';

const root = join(import.meta.dirname, '../../..');

describe('icons', () => {
  it('resources/icon.png is 1024 px and every Linux size is there, square, with transparency', async () => {
    const main = PNG.sync.read(await readFile(join(root, 'resources/icon.png')));
    expect([main.width, main.height]).toEqual([1024, 1024]);
    for (const size of LINUX_ICON_SIZES) {
      const png = PNG.sync.read(await readFile(join(root, `resources/icons/${size}x${size}.png`)));
      expect([png.width, png.height], `${size}x${size}.png`).toEqual([size, size]);
      expect(png.data[3], 'the corner is transparent').toBe(0);
    }
  });

  it('are up to date with the drawing (npm run icons) and the SVG source in build/', async () => {
    expect(await readFile(join(root, 'resources/icons/256x256.png'))).toEqual(renderIconPng(256));
    expect(await readFile(join(root, 'build/icon.svg'), 'utf8')).toBe(iconSvg());
  });
});
