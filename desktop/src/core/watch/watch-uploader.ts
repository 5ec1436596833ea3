import type { ImportService } from '../import/import-service.js';
import type { ImportSource } from '../import/import-source.js';
import type { UploadEngine, JobOutcome } from '../upload/upload-engine.js';
import { applyAfterDelivery } from './after-delivery.js';
import type { FolderWatcher, SettledFile } from './folder-watcher.js';
import type { WatchedFolderConfig } from './watched-folder-config.js';

export interface WatchUploaderOptions {
  imports: ImportService;
  /** Where studies are queued and sent: the engine, or a sender that runs its queue (the desktop app's). */
  engine: () => Promise<Pick<UploadEngine, 'enqueue' | 'run'>>;
  onOutcome?: (folder: string, outcome: JobOutcome) => void;
  onError?: (folder: string, error: unknown) => void;
}

/**
 * Connects watched folders to the upload engine: a settled study is imported into the catalog,
 * queued with the folder's defaults and sent; once every PACS has it, the folder's after-delivery
 * rule (keep, move or delete) is applied to exactly the files that were sent. Studies go one at a
 * time per watcher, in the order they settle; a routine study waits for its time window (so the
 * after-delivery rule still follows it), and one watcher waiting does not hold up another's STAT:
 * watchers send side by side, and a routine study sending holds its chunks while a STAT one sends
 * (the engine's StatFirstGate).
 */
export class WatchUploader {
  private readonly chains = new Map<FolderWatcher, Promise<void>>();

  constructor(private readonly options: WatchUploaderOptions) {}

  attach(watcher: FolderWatcher, config: WatchedFolderConfig): void {
    watcher.on('study-settled', (event) => {
      const chain = (this.chains.get(watcher) ?? Promise.resolve()).then(() => this.send(config, event.files))
        .catch((error: unknown) => this.options.onError?.(config.path, error));
      this.chains.set(watcher, chain);
    });
  }

  /** Resolves when everything settled so far has been handled. */
  async idle(): Promise<void> {
    await Promise.all(this.chains.values());
  }

  private async send(config: WatchedFolderConfig, files: readonly SettledFile[]): Promise<void> {
    const run = await this.options.imports.run(config.path, filesSource(files));
    const engine = await this.options.engine();
    for (const studyInstanceUid of run.studyInstanceUids) {
      const outcome = await engine.run(engine.enqueue(studyInstanceUid, config.serviceLevel, undefined, config.routingTag), { waitForWindow: true });
      this.options.onOutcome?.(config.path, outcome);
      // Files the import skipped or kept as conflicts were not what was sent: they stay where they are.
      const everyFileSent = run.counts.skipped === 0 && run.counts.conflicts === 0;
      if (everyFileSent && (outcome.state === 'delivered' || outcome.state === 'confirmed')) await applyAfterDelivery(config, files);
    }
  }
}

async function* filesSource(files: readonly SettledFile[]): ImportSource {
  for (const file of files) yield { kind: 'file', file: { path: file.path, displayName: file.path } };
}
