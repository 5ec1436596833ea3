// `npm start`: RelayPACS on embedded defaults. Always the headless programs: the relay (SQLite, local
// disk, a local folder as destination) and the relaypacs agent watching an inbox folder, so a study
// dropped there ends up at the destination. Where an Electron binary exists (Electron downloads it
// at install or first launch; offline or in CI it may be missing) the desktop app is built and its
// window opens too; quitting it stops everything. RELAYPACS_HEADLESS=1 keeps the window closed.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { findElectronBinary } from './electron-binary.js';

const root = join(import.meta.dirname, '..');
const dataHome = process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share');
const relayData = process.env.RELAYPACS_DATA ?? join(dataHome, 'relaypacs', 'relay');
const agentData = process.env.RELAYPACS_AGENT_DATA ?? join(dataHome, 'relaypacs', 'agent');
const inbox = process.env.RELAYPACS_INBOX ?? join(dataHome, 'relaypacs', 'inbox');
const port = process.env.RELAYPACS_PORT ?? '8780';
const relayUrl = `http://127.0.0.1:${port}`;
const RELAY_BIN = join(root, 'server/bin/relaypacs-relay.js');
const AGENT_BIN = join(root, 'desktop/bin/relaypacs.js');
const AGENT_USER = 'local-agent';

function run(bin: string, args: string[], stdin = ''): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, RELAYPACS_DATA: relayData, RELAYPACS_AGENT_DATA: agentData } });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(stdin);
  });
}

const children: ChildProcess[] = [];
function keep(child: ChildProcess): ChildProcess {
  children.push(child);
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.log(`start: a program stopped (${signal ?? code}); stopping the rest`);
      stop();
    }
  });
  return child;
}
let stopping = false;
function stop(): void {
  stopping = true;
  for (const child of children) child.kill('SIGTERM');
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

// Looked for without require('electron'), which would start Electron's download when it is missing.
const electron = findElectronBinary();
const headless = process.env.RELAYPACS_HEADLESS === '1';
const binary = electron.found && !headless ? electron.binary.path : undefined;
console.log(!electron.found
  ? `start: no Electron binary on this machine (${electron.reason}; Electron downloads it from the internet), so the desktop window cannot open here. Running the headless programs instead.`
  : headless
    ? `start: Electron found at ${electron.binary.path}, but RELAYPACS_HEADLESS=1: running the headless programs only.`
    : `start: Electron found at ${electron.binary.path}: building the desktop app; its window opens beside the headless programs.`);

// --max-semi-space-size=8: the relay's memory bound (docs/BENCHMARKS.md, "Relay memory"), as the deploy units start it.
// --log-file: this console is for sentences; the relay's JSON request log (a line per request) goes
// to its data folder, and only its warnings and errors show here (server/src/log/relay-log.ts).
const relayLog = join(relayData, 'logs', 'relay.log');
keep(spawn(process.execPath, ['--max-semi-space-size=8', RELAY_BIN, '--port', port, '--data', relayData, '--log-file', relayLog, ...process.argv.slice(2)], { stdio: 'inherit' }));
for (let i = 0; i < 100; i++) {
  if (await fetch(`${relayUrl}/healthz`).then((r) => r.ok, () => false)) break;
  await new Promise((r) => setTimeout(r, 200));
}

// The agent signs in with a device account of its own, created once; its refresh token goes to the
// system keychain, which on Linux needs a Secret Service (GNOME Keyring, KWallet). Where none
// answers (a server, a container, SSH without a desktop session) the agent is told to keep it in a
// file of mode 0600 in its data folder instead, saying so once; not when the choice is already made
// (RELAYPACS_CREDENTIAL_STORE) or systemd hands it credentials, and IT policy can still forbid it
// (allowFileCredentialStore: false), which the agent then reports as the reason it cannot sign in.
// A file an earlier start made stays in use, even once a keychain answers: the sign-in is there.
const credentialFile = join(agentData, 'credentials.json');
if (!process.env.RELAYPACS_CREDENTIAL_STORE && !process.env.CREDENTIALS_DIRECTORY && await stat(credentialFile).then(() => true, () => false)) {
  process.env.RELAYPACS_CREDENTIAL_STORE = 'file';
  console.log(`start: the agent keeps its sign-in in ${credentialFile} (mode 0600), as an earlier start without a system keychain chose; remove that file to use the keychain.`);
}
if (!process.env.RELAYPACS_CREDENTIAL_STORE && !process.env.CREDENTIALS_DIRECTORY) {
  // Named through a variable: the desktop's sources belong to its own TypeScript project, not this one.
  const keychainModule = new URL('../desktop/src/core/secrets/os-keychain-store.js', import.meta.url).href;
  const { OsKeychainStore } = await import(keychainModule) as { OsKeychainStore: new () => { get(account: string): Promise<string | undefined> } };
  // A lookup of an item that never exists: proves the keychain answers without asking to unlock it.
  const unavailable = await new OsKeychainStore().get('relaypacs-probe').then(() => undefined, (error: unknown) => (error as { reason?: string }).reason ?? 'error');
  if (unavailable) {
    process.env.RELAYPACS_CREDENTIAL_STORE = 'file';
    console.log(`start: no system keychain answers here (${unavailable}), so the agent keeps its sign-in in ${credentialFile} (mode 0600) instead; set RELAYPACS_CREDENTIAL_STORE=keychain to refuse that.`);
  }
}
const session = await run(AGENT_BIN, ['status', '--json']);
let signedIn = session.code === 0 && Boolean((JSON.parse(session.output || '{}') as { session?: unknown }).session);
if (!signedIn) {
  const password = randomBytes(24).toString('base64url');
  await run(RELAY_BIN, ['user', 'add', AGENT_USER, '--role', 'device', '--password-stdin'], `${password}\n`);
  await run(RELAY_BIN, ['user', 'passwd', AGENT_USER, '--password-stdin'], `${password}\n`);
  const login = await run(AGENT_BIN, ['login', '--relay', relayUrl, '--user', AGENT_USER, '--password-stdin'], `${password}\n`);
  signedIn = login.code === 0;
  if (!signedIn) {
    console.log(`start: the agent could not sign in, so the inbox is not watched: ${login.output.trim()}`);
    console.log(`start: the relay still runs at ${relayUrl}; send with \`npm run agent -- upload PATH\` once it can sign in.`);
  }
}
if (signedIn && !stopping) {
  await mkdir(inbox, { recursive: true });
  keep(spawn(process.execPath, [AGENT_BIN, 'watch', inbox, '--quiet', '5'], { stdio: 'inherit', env: { ...process.env, RELAYPACS_AGENT_DATA: agentData } }));
  console.log(`start: drop DICOM files in ${inbox}; five seconds after the last file of a study, it is sent to the relay and delivered to ${join(relayData, 'delivered')}`);
}

if (binary && !stopping) {
  const { buildRenderer } = await import('./build-renderer.js');
  const { buildDesktop } = await import('./build-desktop.js');
  await buildRenderer();
  await buildDesktop();
  // Chromium's setuid sandbox helper cannot run for root; the sandbox web preference stays on regardless.
  const args = process.getuid?.() === 0 ? ['--no-sandbox', root] : [root];
  const desktopData = process.env.RELAYPACS_DESKTOP_DATA ?? join(dataHome, 'relaypacs', 'desktop');
  keep(spawn(binary, args, { stdio: 'inherit', env: { ...process.env, RELAYPACS_DESKTOP_DATA: desktopData } }));
  console.log(`start: the RelayPACS window is open; sign in to the relay at ${relayUrl} with an account made by \`RELAYPACS_DATA=${relayData} npm run relay -- user add NAME --role radiographer --password-stdin\`. Quitting the app stops everything.`);
}
