import { defineConfig } from 'vitest/config';
import { PlainSummaryReporter } from './scripts/testkit/src/plain-summary-reporter.js';

// One runner for every program. Integration tests start real peers (Orthanc, DCMTK, a keychain
// daemon, Chromium) per test file on free loopback ports, so hooks get generous time limits.
export default defineConfig({
  test: {
    include: [
      'desktop/test/**/*.test.ts',
      'desktop/test/**/*.test.tsx',
      'server/test/**/*.test.ts',
      'packages/*/test/**/*.test.ts',
      'scripts/testkit/test/**/*.test.ts',
      'scripts/test/**/*.test.ts',
    ],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', new PlainSummaryReporter()],
  },
});
