import { describe, expect, it } from 'vitest';
import { Router, type RoutingFacts } from '../../src/forward/router.js';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const facts = (overrides: Partial<RoutingFacts> = {}): RoutingFacts => ({
  modality: 'CT', serviceLevel: 'ROUTINE', sourceWorkstation: 'CT-01', facility: 'east', username: 'alice', sopClassUid: CT, ...overrides,
});

describe('routing rules', () => {
  it('sends everything everywhere when there are no rules', () => {
    expect(new Router([], ['a', 'b']).destinationsFor(facts())).toEqual(['a', 'b']);
  });

  it('matches on every criterion, case-insensitively for names and exactly for UIDs', () => {
    const router = new Router([
      { match: { modality: ['mr'] }, destinations: ['mr-pacs'] },
      { match: { serviceLevel: ['STAT'] }, destinations: ['stat-pacs'] },
      { match: { sourceWorkstation: ['ct-01'], facility: ['EAST'] }, destinations: ['east-pacs'] },
      { match: { user: ['bob'] }, destinations: ['bob-archive'] },
      { match: { sopClass: ['1.2.840.10008.5.1.4.1.1.104.1'] }, destinations: ['documents'] },
    ], ['mr-pacs', 'stat-pacs', 'east-pacs', 'bob-archive', 'documents']);
    expect(router.destinationsFor(facts())).toEqual(['east-pacs']);
    expect(router.destinationsFor(facts({ modality: 'MR', serviceLevel: 'STAT' }))).toEqual(['mr-pacs', 'stat-pacs', 'east-pacs']);
    expect(router.destinationsFor(facts({ facility: 'west', username: 'BOB' }))).toEqual(['bob-archive']);
    expect(router.destinationsFor(facts({ facility: null, sopClassUid: '1.2.840.10008.5.1.4.1.1.104.1' }))).toEqual(['documents']);
    expect(router.destinationsFor(facts({ facility: null, sopClassUid: `${CT}.1` }))).toEqual([]);
  });

  it('lists destinations in configuration order without repeats', () => {
    const router = new Router([
      { match: {}, destinations: ['b', 'a'] },
      { match: { modality: ['CT'] }, destinations: ['a'] },
    ], ['a', 'b']);
    expect(router.destinationsFor(facts())).toEqual(['a', 'b']);
  });
});
