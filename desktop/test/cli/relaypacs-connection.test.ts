// How the agent reaches a relay that is not plain HTTP on the same network: over HTTPS with a private
// CA (`relaypacs settings --ca-file`), and through an HTTP proxy (`relaypacs settings --proxy`). The
// relay is the real binary with a certificate the test makes; the proxy is a small forward proxy in
// the test that records what passed through it.
import { execFile } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { generateStudy, type ProgramResult } from '@relaypacs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentWorld, DEVICE } from './agent-harness.js';

const run = promisify(execFile);

async function uploadAndCheck(world: AgentWorld, name: string): Promise<ProgramResult> {
  const study = await generateStudy(join(world.workDir, name), { instances: 3, rows: 64, columns: 64 });
  const upload = await world.agent(['upload', join(world.workDir, name), '--wait', '--json']);
  expect(upload.code, upload.stderr).toBe(0);
  expect(await world.heldInOrthanc(study)).toHaveLength(3);
  return upload;
}

describe('a relay on HTTPS with a private CA', () => {
  let certDir: string;
  let world: AgentWorld;

  beforeAll(async () => {
    certDir = await mkdtemp(join(tmpdir(), 'relaypacs-agent-tls-'));
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem')]);
    world = await AgentWorld.start('relaypacs-cli-tls-', { tls: { keyFile: join(certDir, 'key.pem'), certFile: join(certDir, 'cert.pem') } });
  }, 60_000);

  afterAll(async () => {
    await world?.stop();
    await rm(certDir, { recursive: true, force: true });
  });

  it('refuses the unknown certificate, then signs in and delivers once the CA file is set', async () => {
    expect(world.relay.url).toMatch(/^https:/);
    const untrusted = await world.login();
    expect(untrusted.code).not.toBe(0);
    expect(untrusted.stderr).toMatch(/SELF_SIGNED|CERT|certificate/i);

    const notPem = await world.agent(['settings', '--ca-file', join(certDir, 'key.pem')]);
    expect(notPem.code).toBe(2);
    expect(notPem.stderr).toMatch(/holds no PEM certificate/);
    const missing = await world.agent(['settings', '--ca-file', join(certDir, 'nope.pem')]);
    expect(missing.stderr).toMatch(/cannot be read \(ENOENT\)/);

    const set = await world.agent(['settings', '--ca-file', join(certDir, 'cert.pem'), '--json']);
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ caFile: join(certDir, 'cert.pem'), proxy: null });
    const login = await world.login();
    expect(login.code, login.stderr).toBe(0);
    await uploadAndCheck(world, 'tls-study');
  }, 120_000);
});

describe('a relay reached through an HTTP proxy', () => {
  let world: AgentWorld;
  let proxy: Server;
  const seen: string[] = [];

  beforeAll(async () => {
    world = await AgentWorld.start('relaypacs-cli-proxy-');
    // A forward proxy (RFC 9110 §7.1: absolute-form request targets), enough for plain HTTP.
    proxy = createServer((incoming, outgoing) => {
      const target = new URL(incoming.url ?? '/');
      seen.push(`${incoming.method} ${target.pathname}`);
      const upstream = request({ host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, method: incoming.method, headers: incoming.headers }, (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      });
      upstream.once('error', () => outgoing.destroy());
      incoming.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  }, 60_000);

  afterAll(async () => {
    proxy?.closeAllConnections();
    await new Promise((resolve) => proxy?.close(resolve));
    await world?.stop();
  });

  it('sends everything through the proxy once it is set, and refuses a proxy URL with a password', async () => {
    const withPassword = await world.agent(['settings', '--proxy', 'http://user:secret@127.0.0.1:3128']);
    expect(withPassword.code).toBe(2);
    expect(withPassword.stderr).toMatch(/password in the proxy URL is not kept in settings/);

    const port = (proxy.address() as { port: number }).port;
    const set = await world.agent(['settings', '--proxy', `http://127.0.0.1:${port}`, '--json']);
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ proxy: `http://127.0.0.1:${port}` });
    const login = await world.agent(['login', '--relay', world.relay.url, '--user', DEVICE.user, '--password-stdin'], `${DEVICE.password}\n`);
    expect(login.code, login.stderr).toBe(0);
    await uploadAndCheck(world, 'proxy-study');
    expect(seen).toContain('POST /auth/login');
    expect(seen).toContain('POST /upload/init');
    expect(seen.some((line) => line.startsWith('PUT /upload/') && line.endsWith('/chunk'))).toBe(true);
  }, 120_000);
});
