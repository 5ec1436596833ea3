// @ts-check
// ESLint flat config. Besides the usual TypeScript rules it enforces the dependency direction of
// docs/architecture.md: common imports nothing; core never imports electron or the layers above
// it (app, cli, main); app (the application layer speaking the IPC contract, Electron-free so the
// browser tests run it) is used by main and the test harness, never by core or the cli; the renderer reaches the main process only through lib/api-client.ts; server/src/upload never
// imports a concrete storage or destination; main never imports the headless agent's credential
// stores (the desktop app is pinned to the OS keychain). The renderer may import common, types and its pure data
// alike (common is runtime-free by its own rule). desktop/test/architecture proves each rule fires.
// The relay's services reach its state only through the store interfaces (server/src/store/*.ts), so a
// second backend replaces SQLite without touching them: server/src/{upload,forward,auth,ops} never
// import better-sqlite3, the SQLite stores (store/sqlite) or node:fs, and the interfaces import none
// of those either
// (server/test/architecture proves it).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const nodeBuiltins = ['node:*', 'fs', 'path', 'os', 'child_process', 'net', 'http', 'https', 'crypto', 'stream', 'worker_threads'];

/** @param {string} name @param {string} why */
const forbid = (name, why) => ({ group: [name], message: why });

const desktopLayers = {
  core: forbid('**/core/**', 'Only app, cli and main may import core.'),
  app: forbid('**/app/**', 'Only main (and the browser test harness) uses the app layer: core and the cli never import it.'),
  cli: forbid('**/cli/**', 'Nothing imports the cli.'),
  main: forbid('**/main/**', 'Nothing imports the Electron main process code.'),
  preload: forbid('**/preload/**', 'Nothing imports the preload script.'),
  renderer: forbid('**/renderer/**', 'Nothing outside the renderer imports it.'),
};
// The desktop app keeps its sign-in only in the OS keychain (the backend is pinned): the file store
// and systemd credentials are the headless agent's, chosen in core/secrets/agent-credentials.ts.
const headlessCredentials = { group: ['**/secrets/agent-credentials.js', '**/secrets/file-credential-store.js'], message: 'The desktop app keeps credentials only in the OS keychain; the file store and systemd credentials are for the headless agent.' };
const electron = { name: 'electron', message: 'Only desktop/src/main and desktop/src/preload may import electron.' };
// The relay's state is behind server/src/store's interfaces: SQL, the SQLite driver and the files
// (the database, the old key file) belong to store/sqlite and the wiring, never to the services.
/** @param {string} who */
const storeBoundary = (who) => ({
  paths: ['better-sqlite3', 'pg', 'node:fs', 'node:fs/promises', 'fs', 'fs/promises'].map((name) => ({
    name, message: `${who} must reach the relay's state only through the store interfaces (server/src/store/*.ts): no database driver, no files.`,
  })),
  patterns: [
    { group: ['**/store/sqlite', '**/store/sqlite/**', './sqlite', './sqlite/**', '**/store/postgres', '**/store/postgres/**', './postgres', './postgres/**'], message: `${who} must use the store interfaces, never the SQLite or PostgreSQL stores (server/src/store/sqlite, store/postgres) behind them.` },
    { group: ['@aws-sdk/*'], message: `${who} meets temporary storage only through storage/storage.ts, never an object store's SDK.` },
  ],
});

export default tseslint.config(
  {
    ignores: ['**/node_modules/**', '**/dist/**', '**/out/**', '.tools/**', 'coverage/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // The DICOM reading core is plain TypeScript on Node built-ins, shared by every program.
    files: ['packages/dicom/src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { regex: '^(?!node:|\\.{1,2}/)', message: '@relaypacs/dicom imports only Node built-ins and its own modules: no npm packages.' },
          { group: ['**/desktop/**', '**/server/**', '**/scripts/**'], message: '@relaypacs/dicom is shared by every program and imports none of their code.' },
        ],
      }],
    },
  },
  {
    files: ['desktop/src/common/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [electron],
        patterns: [
          { group: nodeBuiltins, message: 'common is runtime-free: no Node built-ins.' },
          ...Object.values(desktopLayers),
        ],
      }],
    },
  },
  {
    files: ['desktop/src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'electron', message: 'core is plain Node and never imports electron: it must run headless and under vitest.' }],
        patterns: [desktopLayers.app, desktopLayers.cli, desktopLayers.main, desktopLayers.preload, desktopLayers.renderer],
      }],
    },
  },
  {
    // The application layer: Electron-free (the browser tests run it in the test process), above core.
    files: ['desktop/src/app/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'electron', message: 'app never imports electron: main hands it what it needs, so the browser tests can run it.' }],
        patterns: [desktopLayers.cli, desktopLayers.main, desktopLayers.preload, desktopLayers.renderer, headlessCredentials],
      }],
    },
  },
  {
    files: ['desktop/src/cli/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'electron', message: 'The relaypacs command runs without Electron.' }],
        patterns: [desktopLayers.app, desktopLayers.main, desktopLayers.preload, desktopLayers.renderer],
      }],
    },
  },
  {
    files: ['desktop/src/main/**/*.ts', 'desktop/src/preload/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [desktopLayers.cli, desktopLayers.renderer, headlessCredentials] }],
    },
  },
  {
    files: ['desktop/src/renderer/**/*.ts', 'desktop/src/renderer/**/*.tsx'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: [{ name: 'electron', message: 'The renderer is sandboxed: it reaches main only through lib/api-client.ts.' }],
        patterns: [
          { group: nodeBuiltins, message: 'The renderer runs in a sandboxed Chromium page: no Node built-ins.' },
          // common is runtime-free by definition (its own rule forbids Node built-ins and every other
          // layer), so the renderer may use its values too: JOB_STATE_LABELS, ERROR_CODES, channel lists.
          // Not desktopLayers.app: the renderer has an app/ folder of its own (its shell), which the pattern
          // would match; the app layer uses Node, which the renderer's tsconfig (DOM, no Node types) refuses.
          desktopLayers.core, desktopLayers.cli, desktopLayers.main, desktopLayers.preload,
        ],
      }],
      'no-restricted-globals': ['error', { name: 'api', message: 'Only lib/api-client.ts reads window.api.' }],
      'no-restricted-syntax': ['error', {
        selector: "MemberExpression[object.name=/^(window|globalThis|self)$/][property.name='api']",
        message: 'Only desktop/src/renderer/lib/api-client.ts reads window.api.',
      }],
    },
  },
  {
    files: ['desktop/src/renderer/lib/api-client.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  ...['auth', 'ops'].map((who) => ({
    files: [`server/src/${who}/**/*.ts`],
    rules: { 'no-restricted-imports': ['error', storeBoundary(who)] },
  })),
  {
    files: ['server/src/store/*.ts'],
    rules: { 'no-restricted-imports': ['error', storeBoundary('A store interface')] },
  },
  {
    // upload and forward are services too, and also meet temporary storage and the destinations only
    // through their interfaces (storage/storage.ts, forward/destination.ts).
    files: ['server/src/upload/**/*.ts', 'server/src/forward/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: storeBoundary('upload and forward').paths,
        patterns: [
          ...storeBoundary('upload and forward').patterns,
          { group: ['**/storage/*-storage', '**/storage/*-storage.js', '**/storage/*-storage.ts'], message: 'upload and forward talk to storage only through the interface in storage/storage.ts.' },
          { group: ['**/destinations/**', '../destinations', './destinations'], message: 'upload and forward never import a concrete destination (server/src/destinations); use forward/destination.ts.' },
        ],
      }],
    },
  },
);
