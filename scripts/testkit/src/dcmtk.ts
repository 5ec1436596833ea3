import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * DCMTK's dcmdump, the independent reader the tests trust: it refuses malformed files with a
 * non-zero exit. `+L` prints long values whole; `-Un` prints UIDs as numbers; `-dc` turns off DCMTK's silent data corrections.
 */
export async function dcmdump(path: string, extraArgs: string[] = []): Promise<string> {
  const { stdout } = await run('dcmdump', ['-dc', '-Un', '+L', ...extraArgs, path], { maxBuffer: 256 * 1024 * 1024 });
  return stdout;
}

/** The value dcmdump shows for a tag (first occurrence), without brackets. */
export function dumpedValue(dump: string, tag: string): string | undefined {
  const line = dump.split('\n').find((l) => l.startsWith(`(${tag.toLowerCase()})`));
  if (!line) return undefined;
  const body = line.slice(12).trim();
  const bracketed = /^\w\w \[(.*?)\]\s+#/.exec(body);
  // UI values are padded to even length with NUL (PS3.5 §6.2), which dcmdump prints as is.
  if (bracketed) return bracketed[1]?.replace(/[\0 ]+$/, '');
  const plain = /^\w\w (.*?)\s+#/.exec(body);
  return plain?.[1];
}
