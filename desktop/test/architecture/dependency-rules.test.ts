// Proves the lint rules that enforce ARCHITECTURE.md's dependency direction actually fire: each
// case lints a small source text as if it lived at the given path in the repository.
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const repoRoot = join(import.meta.dirname, '../../..');
const eslint = new ESLint({ cwd: repoRoot });

async function lintAs(relativePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(repoRoot, relativePath) });
  return (result?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

describe('dependency direction (lint)', () => {
  it.each([
    ['core imports electron', 'desktop/src/core/upload/upload-service.ts', "import { app } from 'electron';\nexport const x = app;\n", /never imports electron/],
    ['core imports main', 'desktop/src/core/catalog/catalog.ts', "import { x } from '../../main/window.js';\nexport const y = x;\n", /Nothing imports the Electron main process code/],
    ['common imports a Node built-in', 'desktop/src/common/models.ts', "import { readFile } from 'node:fs';\nexport const r = readFile;\n", /common is runtime-free/],
    ['common imports core', 'desktop/src/common/ipc-contract.ts', "import { x } from '../core/create-core.js';\nexport const y = x;\n", /Only app, cli and main may import core/],
    ['renderer imports core', 'desktop/src/renderer/features/queue/queue-view.tsx', "import { x } from '../../../core/upload/queue.js';\nexport const y = x;\n", /Only app, cli and main may import core/],
    ['renderer imports electron', 'desktop/src/renderer/app/app.tsx', "import { ipcRenderer } from 'electron';\nexport const y = ipcRenderer;\n", /reaches main only through lib\/api-client.ts/],
    ['renderer reads window.api outside the api client', 'desktop/src/renderer/stores/queue-store.ts', 'export const jobs = window.api.listJobs();\n', /Only desktop\/src\/renderer\/lib\/api-client.ts reads window.api/],
    ['renderer imports a Node built-in', 'desktop/src/renderer/lib/format.ts', "import { format } from 'node:util';\nexport const f = format;\n", /no Node built-ins/],
    ['renderer imports the preload', 'desktop/src/renderer/lib/api-client.ts', "import { x } from '../../preload/preload.js';\nexport const y = x;\n", /Nothing imports the preload script/],
    ['core imports the app layer', 'desktop/src/core/upload/upload-engine.ts', "import { x } from '../../app/desktop-api.js';\nexport const y = x;\n", /core and the cli never import it/],
    ['the cli imports the app layer', 'desktop/src/cli/relaypacs.ts', "import { x } from '../app/queue-actions.js';\nexport const y = x;\n", /core and the cli never import it/],
    ['the app layer imports electron', 'desktop/src/app/desktop-api.ts', "import { Notification } from 'electron';\nexport const n = Notification;\n", /app never imports electron/],
    ['the app layer imports main', 'desktop/src/app/desktop-api.ts', "import { x } from '../main/notifications.js';\nexport const y = x;\n", /Nothing imports the Electron main process code/],
    ['main imports the headless agent\'s credential stores', 'desktop/src/main/desktop-app.ts', "import { FileCredentialStore } from '../core/secrets/file-credential-store.js';\nexport const s = FileCredentialStore;\n", /only in the OS keychain/],
    ['main chooses a credential store as the agent does', 'desktop/src/main/desktop-app.ts', "import { agentCredentials } from '../core/secrets/agent-credentials.js';\nexport const s = agentCredentials;\n", /only in the OS keychain/],
    ['upload imports a concrete storage', 'server/src/upload/chunk-handler.ts', "import { LocalDiskStorage } from '../storage/local-disk-storage.js';\nexport const s = LocalDiskStorage;\n", /only through the interface/],
    ['upload imports a concrete destination', 'server/src/upload/complete-handler.ts', "import { StowRsDestination } from '../destinations/stow-rs-destination.js';\nexport const d = StowRsDestination;\n", /never import a concrete destination/],
    ['the DICOM package imports an npm package', 'packages/dicom/src/data-set-walker.ts', "import Fastify from 'fastify';\nexport const f = Fastify;\n", /no npm packages/],
    ['the DICOM package imports relay code', 'packages/dicom/src/uid.ts', "import { x } from '../../../server/src/app.js';\nexport const y = x;\n", /imports none of their code/],
  ])('rejects: %s', async (_name, path, code, message) => {
    const messages = await lintAs(path, code);
    expect(messages.some((m) => message.test(m)), messages.join('\n')).toBe(true);
  });

  it.each([
    ['core imports common', 'desktop/src/core/upload/upload-service.ts', "import type { Study } from '../../common/models.js';\nexport type S = Study;\n"],
    ['main imports core and electron', 'desktop/src/main/ipc-handlers.ts', "import { app } from 'electron';\nimport { createCore } from '../core/create-core.js';\nexport const x = [app, createCore];\n"],
    ['main imports the app layer', 'desktop/src/main/desktop-app.ts', "import { createDesktopApi } from '../app/desktop-api.js';\nexport const c = createDesktopApi;\n"],
    ['the app layer imports core and common', 'desktop/src/app/desktop-api.ts', "import { createCore } from '../core/create-core.js';\nimport type { QueueItem } from '../common/ipc-contract.js';\nexport const c = createCore;\nexport type Q = QueueItem;\n"],
    ['renderer imports types from common', 'desktop/src/renderer/stores/queue-store.ts', "import type { Study } from '../../common/models.js';\nexport type S = Study;\n"],
    // common is runtime-free (its own rule keeps it so), so its pure data may reach the renderer.
    ['renderer imports a value from common', 'desktop/src/renderer/lib/labels.ts', "import { JOB_STATE_LABELS } from '../../common/ipc-contract.js';\nexport const l = JOB_STATE_LABELS;\n"],
    ['the api client reads window.api', 'desktop/src/renderer/lib/api-client.ts', 'export const api = window.api;\n'],
    ['upload uses the storage and destination interfaces', 'server/src/upload/chunk-handler.ts', "import type { TemporaryStorage } from '../storage/storage.js';\nimport type { Destination } from '../forward/destination.js';\nexport type X = [TemporaryStorage, Destination];\n"],
    ['the DICOM package imports a Node built-in and its own module', 'packages/dicom/src/inflated-bytes.ts', "import { createInflateRaw } from 'node:zlib';\nimport { EMPTY } from './byte-source.js';\nexport const x = [createInflateRaw, EMPTY];\n"],
  ])('allows: %s', async (_name, path, code) => {
    expect(await lintAs(path, code)).toEqual([]);
  });
});
