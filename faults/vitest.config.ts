import { defineConfig } from 'vitest/config';
import { PlainSummaryReporter } from '../scripts/testkit/src/plain-summary-reporter.js';

// The fault-injection suite (npm run test:faults): long runs, root only for the network suites, so
// it is kept out of `npm test`. RELAYPACS_FAULTS=short is the form .ci/run runs. Files run one at a
// time: they load the 2-core machine and measure time.
export default defineConfig({
  root: `${import.meta.dirname}/..`,
  test: {
    include: ['faults/**/*.test.ts'],
    globalSetup: ['faults/global-setup.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 900_000,
    hookTimeout: 120_000,
    reporters: ['default', new PlainSummaryReporter()],
  },
});
