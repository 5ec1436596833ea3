// The relay and the agent as the benches measure them: compiled, as deployed. A failed build (the
// tree is being edited) falls back to the sources through tsx, which the results then say.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { buildAgent } from '../scripts/build-agent.js';

export type BuildKind = 'dist' | 'tsx';

const ROOT = join(import.meta.dirname, '..');

export async function buildForBench(log: (line: string) => void): Promise<{ relayBuild: BuildKind; agentBuild: BuildKind; relayEnv: Record<string, string>; agentEnv: Record<string, string> }> {
  let relayBuild: BuildKind = 'dist';
  try {
    execFileSync('npm', ['run', '--silent', 'build', '-w', '@relaypacs/relay'], { cwd: ROOT, stdio: 'inherit' });
  } catch {
    relayBuild = 'tsx';
    log('relay build failed: measuring the relay from its sources through tsx');
  }
  let agentBuild: BuildKind = 'dist';
  try {
    await buildAgent();
  } catch {
    agentBuild = 'tsx';
    log('agent build failed: running the agent from its sources through tsx');
  }
  return {
    relayBuild, agentBuild,
    relayEnv: relayBuild === 'dist' ? { RELAYPACS_RELAY_BUILD: 'dist' } : {},
    agentEnv: agentBuild === 'dist' ? { RELAYPACS_AGENT_BUILD: 'dist' } : {},
  };
}
