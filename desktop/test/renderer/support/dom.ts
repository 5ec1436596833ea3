/**
 * Shared setup for the renderer's jsdom tests, imported by each test file (the node tests of the
 * rest of the repository keep their own environment). jsdom has no layout, so scroll containers
 * get a fixed size for the virtualised queue, and no URL.createObjectURL, so it is stubbed.
 */
import { cleanup } from '@testing-library/react';
import { afterEach, beforeEach, vi } from 'vitest';
import { resetStores } from '../../../src/renderer/stores/reset-stores';
import { uninstallFakeApi } from './fake-api';

beforeEach(() => {
  // A 600px viewport for scroll containers and 150px per measured row.
  vi.spyOn(HTMLElement.prototype, 'clientHeight', 'get').mockReturnValue(600);
  vi.spyOn(HTMLElement.prototype, 'clientWidth', 'get').mockReturnValue(800);
  vi.spyOn(HTMLElement.prototype, 'offsetHeight', 'get').mockReturnValue(150);
  vi.spyOn(HTMLElement.prototype, 'offsetWidth', 'get').mockReturnValue(800);
});

afterEach(() => {
  cleanup();
  resetStores();
  uninstallFakeApi();
  Reflect.deleteProperty(window, 'relaypacsFiles');
  delete document.documentElement.dataset.theme;
  vi.restoreAllMocks();
});
