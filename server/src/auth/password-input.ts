/**
 * Reading a new password on the command line: from a pipe with --password-stdin (scripts,
 * provisioning), or typed twice at a terminal without echo. Never from argv, which other local
 * users can read in the process list and which shells keep in history.
 */
const MAX_STDIN_PASSWORD_BYTES = 4096;

export class PasswordInputError extends Error {
  constructor(message: string, readonly usage = false) {
    super(message);
  }
}

interface RawTerminal extends NodeJS.ReadableStream {
  isTTY: true;
  setRawMode(mode: boolean): unknown;
}

export function isTerminal(stream: NodeJS.ReadableStream): stream is RawTerminal {
  const candidate = stream as Partial<RawTerminal>;
  return candidate.isTTY === true && typeof candidate.setRawMode === 'function';
}

/** The whole of stdin, less one trailing newline (what `echo` or a here-string adds). */
export async function readPasswordFromStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array);
    size += bytes.length;
    if (size > MAX_STDIN_PASSWORD_BYTES) throw new PasswordInputError('the password on stdin is too long');
    chunks.push(bytes);
  }
  const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (/[\r\n]/.test(password)) throw new PasswordInputError('stdin held more than one line; give the password alone on one line');
  if (password === '') throw new PasswordInputError('stdin held no password');
  return password;
}

/** Prompts twice without echo; the two must match. */
export async function promptNewPassword(stdin: RawTerminal, prompts: NodeJS.WritableStream, username: string): Promise<string> {
  const first = await readHiddenLine(stdin, prompts, `New password for ${username}: `);
  const second = await readHiddenLine(stdin, prompts, 'Repeat it: ');
  if (first !== second) throw new PasswordInputError('the two passwords did not match; nothing was changed');
  if (first === '') throw new PasswordInputError('no password was typed; nothing was changed');
  return first;
}

/** One line from a terminal in raw mode, so the characters are not echoed. Ctrl-C cancels. */
function readHiddenLine(stdin: RawTerminal, prompts: NodeJS.WritableStream, prompt: string): Promise<string> {
  prompts.write(prompt);
  return new Promise((resolve, reject) => {
    let line = '';
    const finish = (): void => {
      stdin.removeListener('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      prompts.write('\n');
    };
    const onData = (chunk: Buffer | string): void => {
      const chars = Array.from(chunk.toString());
      for (const [index, char] of chars.entries()) {
        if (char === '\r' || char === '\n' || char === '\u0004') {
          finish();
          // A paste can bring the next line in the same chunk: hand it back for the next prompt.
          const rest = chars.slice(index + 1).join('').replace(/^\n/, '');
          if (rest !== '') stdin.unshift(Buffer.from(rest));
          resolve(line);
          return;
        }
        if (char === '\u0003') {
          finish();
          reject(new PasswordInputError('cancelled; nothing was changed'));
          return;
        }
        if (char === '\u007f' || char === '\b') line = Array.from(line).slice(0, -1).join('');
        else if (char >= ' ') line += char; // other control characters are dropped
      }
    };
    stdin.setRawMode(true);
    stdin.on('data', onData);
    stdin.resume();
  });
}
