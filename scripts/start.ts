// `npm start`: starts RelayPACS on embedded defaults. The desktop window needs the Electron binary,
// which Electron downloads on first launch; where it cannot be had (no internet, CI) this says so
// and runs the headless programs instead.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const root = join(import.meta.dirname, '..');

/** Path of the Electron binary when the electron package and its download are both present. */
function electronBinary(): string | undefined {
  try {
    const path = require('electron') as unknown;
    return typeof path === 'string' && existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

const binary = electronBinary();
if (binary) {
  console.log(`start: Electron found at ${binary}; the desktop window arrives with the desktop app.`);
} else {
  console.log('start: no Electron binary on this machine (Electron downloads it on first launch, from the internet), so the desktop window cannot open here.');
}
console.log('start: the headless agent is not built yet; starting the relay on its embedded defaults.');
console.log('start: create an account with  npm run relay -- user add NAME --role radiographer');

const relay = spawn(process.execPath, [join(root, 'server/bin/relaypacs-relay.js'), ...process.argv.slice(2)], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => relay.kill(signal));
relay.on('exit', (code, signal) => {
  process.exitCode = code ?? (signal ? 1 : 0);
});
