// The real runner the loaders use outside tests: exit codes and output come back, a program that
// cannot be started rejects, and nothing goes through a shell.
import { describe, expect, it } from 'vitest';
import { CommandNotStartedError, execFileRunner } from '../../../src/core/policy/command-runner.js';

describe('execFileRunner', () => {
  it('returns the exit code, standard output and standard error', async () => {
    const result = await execFileRunner(process.execPath, ['-e', 'process.stdout.write("out é"); process.stderr.write("err"); process.exit(3)']);
    expect(result).toEqual({ code: 3, stdout: 'out é', stderr: 'err' });
  });

  it('passes arguments as they are, without a shell', async () => {
    const result = await execFileRunner(process.execPath, ['-e', 'process.stdout.write(process.argv[1])', '$(echo nope) & "quoted"']);
    expect(result.stdout).toBe('$(echo nope) & "quoted"');
  });

  it('rejects with CommandNotStartedError when the program does not exist', async () => {
    await expect(execFileRunner('/nonexistent/reg.exe', ['query'])).rejects.toBeInstanceOf(CommandNotStartedError);
  });
});
