// The scale-out tests' load balancer: connections spread in turn, a refusing target skipped.
import { createServer, connect, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RoundRobinBalancer } from '../src/round-robin-balancer.js';
import { freeLoopbackPort } from '../src/free-port.js';

/** A target that answers each connection with its own name and closes. */
async function namedTarget(name: string): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => socket.end(name));
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return { server, port: address.port };
}

function ask(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let text = '';
    socket.on('data', (data) => (text += data.toString()));
    socket.once('close', () => resolve(text));
    socket.once('error', reject);
  });
}

describe('round-robin balancer', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('hands connections to each target in turn, and skips one that refuses', async () => {
    const targets = await Promise.all(['a', 'b', 'c'].map(namedTarget));
    cleanups.push(async () => {
      for (const t of targets) if (t.server.listening) await new Promise((r) => t.server.close(r));
    });
    const balancer = await RoundRobinBalancer.start(targets.map((t) => t.port));
    cleanups.push(() => balancer.stop());
    const answers: string[] = [];
    for (let i = 0; i < 6; i++) answers.push(await ask(balancer.port));
    expect(answers).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    // "b" dies: its turns go to the next target, and no client is refused.
    await new Promise((r) => targets[1]!.server.close(r));
    const after: string[] = [];
    for (let i = 0; i < 6; i++) after.push(await ask(balancer.port));
    expect(after).not.toContain('b');
    expect(after.filter((name) => name === '')).toEqual([]);
    expect(new Set(after)).toEqual(new Set(['a', 'c']));
  });

  it('closes the client when no target is up, and takes new targets', async () => {
    const balancer = await RoundRobinBalancer.start([await freeLoopbackPort()]);
    cleanups.push(() => balancer.stop());
    expect(await ask(balancer.port)).toBe('');
    const target = await namedTarget('late');
    cleanups.push(() => new Promise((r) => target.server.close(() => r())));
    balancer.setTargets([target.port]);
    expect(await ask(balancer.port)).toBe('late');
    expect(balancer.connectionsTo.get(target.port)).toBe(1);
  });
});
