import { spawn } from 'node:child_process';

export interface ProgramResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a Node program (a bin script) to completion with this Node, feeding `stdin`, capturing its output. */
export function runNodeProgram(bin: string, args: string[], options: { env?: NodeJS.ProcessEnv; stdin?: string } = {}): Promise<ProgramResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}
