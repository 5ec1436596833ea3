// relaypacs: the headless agent. The same core as the desktop app, for scripts, services and tests.
import { writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { toCodedError } from '../core/coded-error.js';
import { createCore, type Core } from '../core/create-core.js';
import { agentCredentials, credentialStoreChoice } from '../core/secrets/agent-credentials.js';
import { sourceForPath } from '../core/import/source-for-path.js';
import { SettingsError } from '../core/settings/agent-settings.js';
import { formatByteRate } from '../core/settings/byte-rate.js';
import { sleepUnlessAborted } from '../core/upload/backoff.js';
import { applyToAll, jobsForAll } from '../core/upload/queue-actions.js';
import { describeTransferWindows, formatTransferWindow, isWindowOpen } from '../core/upload/transfer-window.js';
import type { JobOutcome } from '../core/upload/upload-engine.js';
import { FolderWatcher } from '../core/watch/folder-watcher.js';
import { WatchUploader } from '../core/watch/watch-uploader.js';
import { resolveWatchedFolderConfig } from '../core/watch/watched-folder-config.js';
import type { ReportView } from '../../../server/src/protocol/report-protocol.js';
import { ReportFollower } from '../core/reports/report-follower.js';
import { ProgressLine } from './progress-line.js';

const USAGE = `Usage: relaypacs COMMAND [options]   (--data DIR or RELAYPACS_AGENT_DATA: the agent's data folder)

  login --relay URL --user NAME [--password-stdin] [--totp CODE]
  upload PATH... [--stat] [--history TEXT] [--wait] [--json]
      Imports folders, files, ZIPs or DICOMDIR media and sends every study found. Without --wait it
      returns once the relay has accepted each study (a routine study outside the routine window
      stays queued for it); with --wait, once every PACS has it (exit 0) or something failed (exit 1).
  watch DIR... [--stat] [--quiet SECONDS] [--poll]
      Watches folders (e.g. a modality's export folder) until stopped: each study is sent once it has
      settled (no new file for --quiet seconds, default 30). --poll for network shares. Also sends
      what is queued, routine studies when their window opens, and prints each report the relay
      finds in the PACS for the studies sent ("report ready: ...").
  queue [--json]            the upload queue
  retry ID|--all [--wait]   send a job again; --all retries what the desktop's Retry all does (every
                            failed job, every job waiting to try again after a failed attempt), then
                            sends them with the rest of the queue, jobs a stopped agent left included
                            (a study a PACS refused after the relay accepted it is re-delivered by the
                            relay, not sent again)
  pause ID|--all            hold jobs (they are skipped until resumed)
  resume ID|--all           release held jobs (send them with retry ID, or watch)
  cancel ID                 cancel a job the relay has not accepted yet, freeing its space there
  settings [--max-rate RATE|off] [--routine-window HH:MM-HH:MM[,HH:MM-HH:MM]|off]
           [--ca-file PEM|off] [--proxy http://HOST:PORT|off] [--json]
      Changes the given settings, then prints them all. --ca-file: the private CA the relay's
      certificate chains to; --proxy: an HTTP(S) proxy on the way to the relay. --max-rate caps all sending together
      (4MB/s, 512KB/s, 20Mbit/s; off = no cap). --routine-window: ROUTINE studies are sent only then,
      local time, e.g. 20:00-07:00 (across midnight); STAT studies always go. Running agents apply
      changes from their next chunk.
  status [--json]           who is signed in where, whether the relay answers, the sending settings
  reports [--json]          the reports the relay found in the PACS for this account's studies
                            (study, status preliminary/final/amended, kind, when), newest first
  reports --wait STUDY_UID [--timeout SECONDS]
                            waits (default 3600 s) for a report of that study: exit 0 with it, 1 without
  report ID [--out FILE]    a report's content: an SR as text on standard output, a PDF into FILE

Credentials: the system keychain; --credential-store file (or RELAYPACS_CREDENTIAL_STORE=file) keeps
them in DATA/credentials.json, mode 0600, where no keychain exists and IT policy allows it. Under
systemd, LoadCredential= relaypacs-relay, relaypacs-user and relaypacs-password sign the agent in.`;

class UsageError extends Error {}

/**
 * A failure as the CLI prints it: the code and sentence of the mapping the desktop uses too
 * (core/coded-error; the agent's own advice in its own words), never an unexpected error's message,
 * which can name a patient's folder.
 */
function failureText(error: unknown): string {
  const coded = toCodedError(error, { ownWords: true });
  return `${coded.message} (${coded.code}${coded.detail ? `: ${coded.detail}` : ''})`;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

function print(json: boolean, value: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${text}\n`);
}

function describeOutcome(outcome: JobOutcome): string {
  const problems = outcome.instances.filter((i) => i.reason).map((i) => `    ${i.sopInstanceUid}: ${i.state}, ${i.reason}`);
  const then = heldForWindow(outcome) ? ' (`relaypacs watch` sends it then, as does `relaypacs retry ID --wait`)' : '';
  return [`job ${outcome.jobId} (upload ${outcome.uploadId ?? '-'}): ${outcome.state}${outcome.error ? `, ${outcome.error.message}` : ''}${then}`, ...problems].join('\n');
}

/** Queued on purpose, by the routine window setting: not a failure. */
function heldForWindow(outcome: JobOutcome): boolean {
  return outcome.state === 'queued' && outcome.error?.code === 'WAITING_FOR_WINDOW';
}

/** The sending settings, for `settings` and `status`. */
function sendingView(core: Core): { json: Record<string, unknown>; text: string } {
  const { maxBytesPerSecond, routineWindows } = core.settings.sending();
  const { caFile, proxy } = core.settings.connection();
  const proxyUrl = proxy ? `${proxy.protocol}://${proxy.host}:${proxy.port}` : null;
  const open = isWindowOpen(routineWindows, new Date());
  const json = {
    caFile, proxy: proxyUrl, maxBytesPerSecond, maxRate: maxBytesPerSecond === null ? 'off' : formatByteRate(maxBytesPerSecond),
    routineWindows: routineWindows.map(formatTransferWindow), routineWindowOpen: open,
  };
  const text = [
    `relay CA file: ${caFile ?? 'off (the system\'s trusted CAs)'}`,
    `proxy: ${proxyUrl ?? 'off (direct)'}`,
    `bandwidth cap: ${maxBytesPerSecond === null ? 'off (no cap)' : formatByteRate(maxBytesPerSecond)}`,
    `routine window: ${routineWindows.length === 0 ? 'off (routine studies go at any time)' : `${routineWindows.map(formatTransferWindow).join(', ')} local time: routine studies are sent ${describeTransferWindows(routineWindows)} (${open ? 'open' : 'closed'} now); STAT studies always go`}`,
  ].join('\n');
  return { json, text };
}

async function sendJobs(core: Core, jobIds: number[], wait: boolean, json: boolean, progress: ProgressLine): Promise<number> {
  const engine = await core.engine();
  const outcomes: JobOutcome[] = [];
  // STAT jobs first.
  const ordered = jobIds.map((id) => engine.jobs.find(id)!).sort((a, b) => (a.serviceLevel === b.serviceLevel ? a.id - b.id : a.serviceLevel === 'STAT' ? -1 : 1));
  for (const job of ordered) {
    // --wait means until delivered: that includes waiting for a routine window to open.
    const outcome = await engine.run(job.id, { waitForDelivery: wait, waitForWindow: wait });
    progress.done();
    outcomes.push(outcome);
    if (!json) process.stdout.write(`${describeOutcome(outcome)}\n`);
  }
  if (json) process.stdout.write(`${JSON.stringify({ jobs: outcomes })}\n`);
  const ok = outcomes.every((o) => (wait ? o.state === 'delivered' || o.state === 'confirmed' : o.state === 'forwarding' || o.state === 'delivered' || o.state === 'confirmed' || heldForWindow(o)));
  return ok ? 0 : 1;
}

function describeReport(r: ReportView): string {
  return `${r.detectedAt}  ${r.status.padEnd(11)} ${r.kind.toUpperCase().padEnd(3)} study ${r.studyInstanceUid}${r.title ? ` (${r.title})` : ''}  report ${r.id}`;
}

/** `reports [--json]`, and `reports --wait STUDY_UID [--timeout SECONDS]`. */
async function reportsCommand(core: Core, json: boolean, args: string[], values: { wait?: boolean; timeout?: string }): Promise<number> {
  if (!values.wait) {
    const reports = await core.reports.list();
    print(json, { reports }, reports.length === 0 ? 'no report yet' : reports.map(describeReport).join('\n'));
    return 0;
  }
  const [studyInstanceUid] = args;
  if (!studyInstanceUid) throw new UsageError('reports --wait needs the study\'s STUDY_UID');
  const seconds = values.timeout === undefined ? 3600 : Number(values.timeout);
  if (!Number.isFinite(seconds) || seconds < 0) throw new UsageError('--timeout takes a number of seconds');
  const report = await core.reports.waitFor(studyInstanceUid, seconds * 1000);
  if (!report) {
    print(json, { report: null }, `no report of study ${studyInstanceUid} within ${seconds} s`);
    return 1;
  }
  print(json, { report }, describeReport(report));
  return 0;
}

/** `report ID [--out FILE]`: text to standard output; any other document into FILE. */
async function reportCommand(core: Core, args: string[], out: string | undefined): Promise<number> {
  const id = Number(args[0]);
  if (!Number.isInteger(id) || id < 1) throw new UsageError('report needs the report\'s ID (from `relaypacs reports`)');
  const { contentType, body } = await core.reports.content(id);
  if (out) {
    await writeFile(out, body, { mode: 0o600 });
    process.stdout.write(`report ${id} (${contentType}) written to ${out}\n`);
    return 0;
  }
  if (!contentType.startsWith('text/plain')) throw new UsageError(`report ${id} is ${contentType}: give --out FILE to save it`);
  process.stdout.write(body.toString('utf8'));
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      data: { type: 'string' }, 'credential-store': { type: 'string' }, relay: { type: 'string' }, user: { type: 'string' }, 'password-stdin': { type: 'boolean' }, totp: { type: 'string' },
      quiet: { type: 'string' }, poll: { type: 'boolean' }, stability: { type: 'string' }, 'max-rate': { type: 'string' }, 'routine-window': { type: 'string' },
      'ca-file': { type: 'string' }, proxy: { type: 'string' },
      stat: { type: 'boolean' }, history: { type: 'string' }, wait: { type: 'boolean' }, timeout: { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean' }, all: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...args] = positionals;
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    return command || values.help ? 0 : 2;
  }
  const json = values.json === true;
  const progress = new ProgressLine();
  const dataDir = resolve(values.data ?? process.env.RELAYPACS_AGENT_DATA ?? join(process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'relaypacs', 'agent'));
  let choice: ReturnType<typeof credentialStoreChoice>;
  try {
    choice = credentialStoreChoice(values['credential-store']);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const credentials = await agentCredentials({ dataDir, choice });
  const core = await createCore({
    dataDir, credentials: credentials.store, ...(credentials.unattended ? { unattended: credentials.unattended } : {}),
    onUploadProgress: (p) => progress.update(`job ${p.jobId} ${p.state}${p.reason ? ` (${p.reason.message})` : ''}`, p.bytesSent, p.totalBytes),
  });
  try {
    switch (command) {
      case 'login': {
        if (!values.relay || !values.user) throw new UsageError('login needs --relay URL and --user NAME');
        if (!values['password-stdin']) throw new UsageError('give the password on standard input with --password-stdin');
        const info = await core.session.login(values.relay, values.user, await readStdin(), values.totp);
        print(json, info, `signed in to ${info.relayUrl} as ${info.username} (${info.role}); the session is kept ${credentials.where}`);
        return 0;
      }
      case 'upload': {
        if (args.length === 0) throw new UsageError('upload needs at least one PATH');
        const engine = await core.engine();
        const jobIds: number[] = [];
        for (const path of args.map((p) => resolve(p))) {
          const run = await core.imports.run(path, sourceForPath(path, { tempDir: core.tempDir }), (p) => progress.update('importing', p.found, p.found + 1));
          progress.done();
          if (!json) {
            const headers = run.fileHeaderAdded > 0 ? ` (${run.fileHeaderAdded} without a DICOM file header: DICOM file header added)` : '';
            process.stdout.write(`${path}: ${run.counts.imported} imported${headers}, ${run.counts.duplicates} already known, ${run.counts.conflicts} conflicts, ${run.counts.skipped} skipped\n`);
          }
          for (const uid of run.studyInstanceUids) jobIds.push(engine.enqueue(uid, values.stat ? 'STAT' : 'ROUTINE', values.history));
        }
        if (jobIds.length === 0) {
          print(json, { jobs: [] }, 'no study found to send');
          return 1;
        }
        return await sendJobs(core, [...new Set(jobIds)], values.wait === true, json, progress);
      }
      case 'watch': {
        if (args.length === 0) throw new UsageError('watch needs at least one folder');
        const quietMs = values.quiet === undefined ? undefined : Number(values.quiet) * 1000;
        if (quietMs !== undefined && !(quietMs >= 0)) throw new UsageError('--quiet takes a number of seconds');
        // The studies sent are followed until their report is in the PACS: each report is printed as it comes.
        const follower = new ReportFollower({
          db: core.db, reports: core.reports, events: () => core.relayEvents(),
          account: async () => {
            const info = await core.session.info();
            return info ? { relayUrl: info.relayUrl, username: info.username } : undefined;
          },
          onNew: (reports) => {
            for (const report of reports) print(json, { report }, `report ready: ${describeReport(report)}`);
          },
          log: (message) => process.stderr.write(`relaypacs: ${message}\n`),
        });
        const uploader = new WatchUploader({
          imports: core.imports,
          engine: () => core.engine(),
          onOutcome: (folder, outcome) => {
            print(json, { folder, ...outcome }, `${folder}: ${describeOutcome(outcome)}`);
            if (outcome.state === 'delivered' || outcome.state === 'confirmed') follower.delivered();
          },
          onError: (folder, error) => process.stderr.write(`relaypacs: ${folder}: ${failureText(error)}\n`),
        });
        const watchers = args.map((dir) => {
          const config = resolveWatchedFolderConfig({
            path: resolve(dir), serviceLevel: values.stat ? 'STAT' : 'ROUTINE', afterDelivery: 'keep',
            ...(quietMs === undefined ? {} : { studyQuietMs: quietMs }),
            ...(values.stability === undefined ? {} : { stabilityMs: Number(values.stability) * 1000 }),
            ...(values.poll ? { usePolling: true } : {}),
          });
          const watcher = new FolderWatcher(config);
          uploader.attach(watcher, config);
          watcher.on('file-skipped', (e) => process.stderr.write(`relaypacs: skipped ${e.path}: ${e.reason}\n`));
          watcher.on('folder-unavailable', (e) => process.stderr.write(`relaypacs: ${e.folder} is unavailable (${e.reason}); waiting for it\n`));
          watcher.on('folder-available', (e) => process.stderr.write(`relaypacs: ${e.folder} is back; looking for what arrived while it was away\n`));
          return watcher;
        });
        await Promise.all(watchers.map((w) => w.start()));
        follower.start();
        process.stderr.write(`relaypacs: watching ${args.join(', ')}\n`);
        // What is queued is sent too: studies held for the routine window (sent when it opens) and
        // jobs an earlier agent left. A pass sleeps through a closed window; between passes the loop
        // sleeps a minute, reading only the local queue.
        const stopping = new AbortController();
        const drain = (async () => {
          while (!stopping.signal.aborted) {
            try {
              const engine = await core.engine();
              for (const outcome of await engine.runPending({ waitForWindow: true })) {
                if (!stopping.signal.aborted || outcome.state !== 'queued') print(json, outcome, describeOutcome(outcome));
              }
            } catch (error) {
              process.stderr.write(`relaypacs: ${failureText(error)}\n`);
            }
            await sleepUnlessAborted(60_000, stopping.signal);
          }
        })();
        await new Promise<void>((done) => {
          process.once('SIGTERM', () => done());
          process.once('SIGINT', () => done());
        });
        stopping.abort();
        follower.stop();
        await Promise.all(watchers.map((w) => w.stop()));
        // Jobs waiting for their window or for the relay stay queued for the next start.
        if (await core.session.info()) (await core.engine()).close();
        await uploader.idle();
        await drain;
        return 0;
      }
      case 'queue': {
        const engine = await core.engine();
        const jobs = engine.jobs.all();
        print(json, { jobs }, jobs.map((j) => `${j.id}\t${j.state}\t${j.serviceLevel}\t${j.lastError ?? ''}`).join('\n') || 'the queue is empty');
        return 0;
      }
      case 'retry': {
        const engine = await core.engine();
        if (values.all) {
          // Retries what the desktop's "Retry all" retries (see queue-actions): failed jobs and jobs backing off.
          const { changed, firstError } = await applyToAll(engine, core.db, 'retry');
          if (firstError !== undefined && changed.length === 0) throw firstError;
          // Then sends them with the rest of the queue: the desktop's sender loop always runs what is pending,
          // here nothing else does (an agent stopped or killed mid-send leaves its jobs pending).
          const ids = [...new Set([...changed, ...engine.jobs.pending().map((job) => job.id)])];
          return await sendJobs(core, ids, values.wait === true, json, progress);
        }
        const ids = args.map(Number);
        if (ids.length === 0 || ids.some((id) => !Number.isInteger(id) || !engine.jobs.find(id))) throw new UsageError('retry needs job ids from `relaypacs queue`, or --all');
        for (const id of ids) {
          // A failed job: the engine re-queues a PACS's refusal on the relay, or sends the study again.
          if (await engine.retry(id)) continue;
          // Left unfinished by an agent that stopped: run again from what the relay holds; one the
          // relay accepted stays 'forwarding', which is followed whatever the routine window.
          const state = engine.jobs.find(id)!.state;
          if (state !== 'forwarding' && state !== 'completing') engine.jobs.setState(id, 'queued', { error: null });
        }
        return await sendJobs(core, ids, values.wait === true, json, progress);
      }
      case 'pause':
      case 'resume': {
        const engine = await core.engine();
        const ids = values.all ? jobsForAll(engine, command) : args.map(Number);
        if (ids.length === 0 || ids.some((id) => !Number.isInteger(id) || !engine.jobs.find(id))) throw new UsageError(`${command} needs job ids from \`relaypacs queue\`, or --all`);
        const changed = ids.filter((id) => (command === 'pause' ? engine.pause(id) : engine.resume(id)));
        print(json, { [command === 'pause' ? 'paused' : 'resumed']: changed }, `${command === 'pause' ? 'paused' : 'resumed'}: ${changed.join(', ') || 'none'}`);
        return changed.length === ids.length ? 0 : 1;
      }
      case 'cancel': {
        const engine = await core.engine();
        const id = Number(args[0]);
        if (!Number.isInteger(id) || !engine.jobs.find(id)) throw new UsageError('cancel needs a job id from `relaypacs queue`');
        const cancelled = await engine.cancel(id);
        print(json, { cancelled }, cancelled ? `job ${id} cancelled` : `job ${id} could not be cancelled (already accepted by the relay, delivered or cancelled)`);
        return cancelled ? 0 : 1;
      }
      case 'settings': {
        core.settings.apply({
          ...(values['max-rate'] === undefined ? {} : { maxRate: values['max-rate'] }),
          ...(values['routine-window'] === undefined ? {} : { routineWindows: values['routine-window'] }),
          ...(values['ca-file'] === undefined ? {} : { caFile: values['ca-file'] }),
          ...(values.proxy === undefined ? {} : { proxy: values.proxy }),
        });
        const view = sendingView(core);
        print(json, view.json, view.text);
        return 0;
      }
      case 'status': {
        const info = await core.session.info();
        const counts = core.catalog.counts();
        // Probed now (GET /healthz, a few seconds at most) rather than remembered.
        const online = info ? (await (await core.engine()).connectivity?.check()) ?? null : null;
        const relay = online === null ? '' : `; the relay ${online ? 'answers (online)' : 'does not answer (offline)'}`;
        const view = sendingView(core);
        print(json, { session: info ?? null, credentials: credentials.where, relay: info ? { url: info.relayUrl, online } : null, settings: view.json, catalog: counts },
          `${info ? `signed in to ${info.relayUrl} as ${info.username}` : 'not signed in'}${relay}; catalog: ${counts.studies} studies, ${counts.instances} instances\ncredentials: kept ${credentials.where}\n${view.text}`);
        return 0;
      }
      case 'reports':
        return await reportsCommand(core, json, args, values);
      case 'report':
        return await reportCommand(core, args, values.out);
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } finally {
    core.close();
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
}, (error: unknown) => {
  const usage = error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  process.stderr.write(`relaypacs: ${usage ? (error as Error).message : failureText(error)}\n${usage ? `\n${USAGE}\n` : ''}`);
  // A setting's value was wrong: its message says what to write; the whole usage would bury it.
  process.exitCode = usage || error instanceof SettingsError ? 2 : 1;
});
