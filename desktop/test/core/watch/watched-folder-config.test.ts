import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isIgnoredName, isIgnoredPath } from '../../../src/core/watch/watch-ignore.js';
import { resolveWatchedFolderConfig, validateWatchedFolderConfig, WATCH_DEFAULTS } from '../../../src/core/watch/watched-folder-config.js';

const root = join('/', 'data', 'modality-export');

describe('watched folder settings', () => {
  it('fills in the defaults and normalises the paths', () => {
    expect(resolveWatchedFolderConfig({ path: `${root}/`, serviceLevel: 'ROUTINE', afterDelivery: 'keep' })).toEqual({
      path: root, serviceLevel: 'ROUTINE', afterDelivery: 'keep', usePolling: false, ...WATCH_DEFAULTS,
    });
    expect(WATCH_DEFAULTS).toEqual({ pollIntervalMs: 1000, stabilityMs: 2000, studyQuietMs: 30_000, reconcileIntervalMs: 60_000 });
  });

  it('keeps what was given', () => {
    const config = resolveWatchedFolderConfig({
      path: root, serviceLevel: 'STAT', routingTag: ' east-wing ', afterDelivery: 'move', doneFolder: join('/', 'data', 'sent'),
      usePolling: true, pollIntervalMs: 250, stabilityMs: 500, studyQuietMs: 5000, reconcileIntervalMs: 10_000,
    });
    expect(config).toEqual({
      path: root, serviceLevel: 'STAT', routingTag: 'east-wing', afterDelivery: 'move', doneFolder: join('/', 'data', 'sent'),
      usePolling: true, pollIntervalMs: 250, stabilityMs: 500, studyQuietMs: 5000, reconcileIntervalMs: 10_000,
    });
  });

  it('requires a done folder outside the watched folder for "move"', () => {
    const problems = (input: object) => {
      const result = validateWatchedFolderConfig({ path: root, serviceLevel: 'ROUTINE', afterDelivery: 'move', ...input });
      return result.ok ? [] : result.problems;
    };
    expect(problems({})).toEqual(['doneFolder is required when afterDelivery is "move"']);
    expect(problems({ doneFolder: join(root, 'done') })).toEqual(['doneFolder must not be the watched folder or inside it']);
    expect(problems({ doneFolder: root })).toEqual(['doneFolder must not be the watched folder or inside it']);
    expect(problems({ doneFolder: join(root, '..') })).toEqual(['the watched folder must not be inside doneFolder']);
    expect(problems({ doneFolder: 'done' })).toEqual(['doneFolder must be an absolute path']);
    // A sibling whose name merely starts the same is not inside.
    expect(problems({ doneFolder: `${root}-done` })).toEqual([]);
  });

  it('names every problem at once, with the INVALID_REQUEST code', () => {
    const result = validateWatchedFolderConfig({
      path: 'export', serviceLevel: 'URGENT', afterDelivery: 'archive', routingTag: 'x'.repeat(129),
      usePolling: 'yes', pollIntervalMs: 0, stabilityMs: 1.5, studyQuietMs: -1, reconcileIntervalMs: '60000',
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.code).toBe('INVALID_REQUEST');
    expect(result.problems).toEqual([
      'path must be an absolute path',
      'serviceLevel must be one of "STAT", "ROUTINE"',
      'afterDelivery must be one of "keep", "move", "delete"',
      'routingTag must be at most 128 characters',
      'usePolling must be true or false',
      'pollIntervalMs must be a whole number of milliseconds from 20 to 600000',
      'stabilityMs must be a whole number of milliseconds from 50 to 600000',
      'studyQuietMs must be a whole number of milliseconds from 100 to 86400000',
      'reconcileIntervalMs must be a whole number of milliseconds from 100 to 86400000',
    ]);
    expect(validateWatchedFolderConfig(null)).toMatchObject({ ok: false });
    expect(validateWatchedFolderConfig({ path: root, serviceLevel: 'STAT', afterDelivery: 'keep', routingTag: 'a\nb' }))
      .toMatchObject({ ok: false, problems: ['routingTag must not contain control characters'] });
  });
});

describe('ignored names', () => {
  it('ignores hidden, lock and partial-copy names, anywhere below the root but not the root itself', () => {
    for (const name of ['.DS_Store', '.IM1.dcm.Xy12ab', '~lock.dcm', 'IM1.dcm.part', 'IM1.PARTIAL', 'x.filepart', 'IM1.tmp', 'a.TEMP']) expect(isIgnoredName(name), name).toBe(true);
    for (const name of ['IM00001', 'IM00001.dcm', '1.2.840.113619.2.1', 'DICOMDIR', 'report.pdf', 'part', 'tmp']) expect(isIgnoredName(name), name).toBe(false);
    const hiddenRoot = join('/', 'home', 'u', '.exports');
    expect(isIgnoredPath(hiddenRoot, join(hiddenRoot, 'S1', 'IM1'))).toBe(false);
    expect(isIgnoredPath(hiddenRoot, join(hiddenRoot, '.cache', 'IM1'))).toBe(true);
    expect(isIgnoredPath(hiddenRoot, hiddenRoot)).toBe(false);
  });
});
