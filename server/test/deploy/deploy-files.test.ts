// The relay's deployment files, checked without Docker or systemd (neither runs here): the Dockerfile
// is multi-stage, runs as a non-root user with a HEALTHCHECK and a data volume; the compose file is
// valid YAML with the relay and Orthanc, and the relay's config it mounts is a valid relay config that
// STOW-RSes into the orthanc service; the systemd unit has its hardening keys; the health check script
// the image runs passes against a real relay and fails against a stopped one.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeLoopbackPort, spawnRelay } from '@relaypacs/testkit';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { effectiveDestinations, parseRelayConfig } from '../../src/config/relay-config.js';
import { parseS3StorageUrl } from '../../src/storage/storage-url.js';

const root = join(import.meta.dirname, '../../..');
const text = (path: string): string => readFileSync(join(root, path), 'utf8');

/** Dockerfile instructions, with continuation lines joined and comments dropped. */
function instructions(dockerfile: string): { name: string; args: string }[] {
  return dockerfile.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
    .map((line) => { const [name, ...rest] = line.split(/\s+/); return { name: name!.toUpperCase(), args: rest.join(' ') }; });
}

/** A systemd unit as section → key → every value given (keys may repeat). */
function unit(source: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of source.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) { current = new Map(); sections.set(section[1]!, current); continue; }
    const pair = /^([A-Za-z][\w]*)=(.*)$/.exec(line);
    if (!pair || !current) throw new Error(`not a unit file line: ${line}`);
    current.set(pair[1]!, [...(current.get(pair[1]!) ?? []), pair[2]!]);
  }
  return sections;
}

describe('server/Dockerfile', () => {
  const steps = instructions(text('server/Dockerfile'));
  const last = (name: string) => steps.filter((s) => s.name === name).at(-1);

  it('is multi-stage: build, production dependencies, runtime', () => {
    expect(steps.filter((s) => s.name === 'FROM').map((s) => s.args)).toEqual(['${NODE_IMAGE} AS build', '${NODE_IMAGE} AS deps', '${NODE_IMAGE} AS runtime']);
    expect(steps.find((s) => s.name === 'ARG')!.args).toMatch(/^NODE_IMAGE=node:24-/);
    const runtime = steps.slice(steps.findIndex((s) => s.args.endsWith('AS runtime')));
    expect(runtime.filter((s) => s.name === 'COPY').map((s) => s.args)).toEqual(expect.arrayContaining(['--from=deps /src/node_modules /app/node_modules', '--from=build /src/server/dist ./dist']));
    expect(steps.some((s) => s.name === 'RUN' && /npm ci --omit=dev --ignore-scripts .*-w @relaypacs\/relay/.test(s.args))).toBe(true);
  });

  it('runs as a non-root user created for it, with a data volume and a health check', () => {
    const user = last('USER')!.args;
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(user).toBe('relaypacs:relaypacs');
    expect(steps.some((s) => s.name === 'RUN' && /useradd --system --uid 10001/.test(s.args))).toBe(true);
    expect(last('VOLUME')!.args).toBe('["/var/lib/relaypacs"]');
    expect(steps.some((s) => s.name === 'ENV' && /RELAYPACS_DATA=\/var\/lib\/relaypacs/.test(s.args) && /RELAYPACS_HOST=0\.0\.0\.0/.test(s.args))).toBe(true);
    expect(last('HEALTHCHECK')!.args).toMatch(/CMD \["node", "deploy\/healthcheck\.mjs"\]$/);
    expect(last('EXPOSE')!.args).toBe('8780');
    // Every file the image copies from the context is let through its .dockerignore.
    const ignore = text('server/Dockerfile.dockerignore');
    for (const step of steps.filter((s) => s.name === 'COPY' && !s.args.startsWith('--from'))) {
      for (const source of step.args.split(/\s+/).slice(0, -1)) expect(ignore, source).toContain(`!${source.replace(/\/$/, '')}`);
    }
  });
});

describe('docs/deploy/compose.yml', () => {
  const compose = yaml.load(text('docs/deploy/compose.yml')) as { services: Record<string, Record<string, unknown>>; volumes: Record<string, unknown> };

  it('runs the relay (built from server/Dockerfile) beside Orthanc with DICOMweb', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['orthanc', 'relay']);
    expect(compose.services.relay!.build).toEqual({ context: '../..', dockerfile: 'server/Dockerfile' });
    expect(existsSync(join(root, 'docs/deploy', '../..', 'server/Dockerfile'))).toBe(true);
    expect(compose.services.orthanc!.image).toMatch(/^orthancteam\/orthanc:\d/);
    expect(compose.services.orthanc!.environment).toMatchObject({ DICOM_WEB_PLUGIN_ENABLED: 'true' });
    expect(compose.services.relay!.volumes).toEqual(['relay-data:/var/lib/relaypacs', './compose-relay.json:/etc/relaypacs/relay.json:ro']);
    expect(Object.keys(compose.volumes).sort()).toEqual(['orthanc-db', 'relay-data']);
  });

  it('the relay config it mounts is valid and STOW-RSes into the orthanc service with its credentials', () => {
    const config = parseRelayConfig(JSON.parse(text('docs/deploy/compose-relay.json')) as Record<string, unknown>, 'compose-relay.json');
    const [destination] = effectiveDestinations(config);
    expect(destination).toMatchObject({ kind: 'stow-rs', url: 'http://orthanc:8042/dicom-web', auth: { type: 'basic', username: 'relay' } });
    const users = JSON.parse(String((compose.services.orthanc!.environment as Record<string, string>).ORTHANC__REGISTERED_USERS)) as Record<string, string>;
    expect(users.relay).toBe((destination as { auth: { password: string } }).auth.password);
  });
});

describe('docs/deploy/compose-scale-out.yml and haproxy.cfg', () => {
  type Service = { environment?: Record<string, string>; build?: unknown; image?: string; volumes?: string[] };
  const compose = yaml.load(text('docs/deploy/compose-scale-out.yml')) as { services: Record<string, Service> };
  const relays = Object.entries(compose.services).filter(([name]) => name.startsWith('relay-'));

  it('runs three relays of one image with the same two URLs and credentials, each named, behind the balancer', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['balancer', 'orthanc', 'postgres', 'relay-1', 'relay-2', 'relay-3', 's3']);
    const shared = (service: Service) => {
      const { RELAYPACS_INSTANCE_NAME: _name, ...rest } = service.environment!;
      return rest;
    };
    for (const [name, relay] of relays) {
      expect(relay.build).toEqual({ context: '../..', dockerfile: 'server/Dockerfile' });
      expect(relay.environment!.RELAYPACS_INSTANCE_NAME).toBe(name);
      expect(shared(relay)).toEqual(shared(relays[0]![1]));
    }
    const env = relays[0]![1].environment!;
    // The URLs are ones the relay's own configuration takes.
    const config = parseRelayConfig({ databaseUrl: env.RELAYPACS_DATABASE_URL, storageUrl: env.RELAYPACS_STORAGE_URL }, 'compose-scale-out.yml');
    expect(config.databaseUrl).toMatch(/@postgres:5432\/relaypacs$/);
    expect(parseS3StorageUrl(config.storageUrl!)).toMatchObject({ bucket: 'relaypacs-chunks', endpoint: 'http://s3:8333', forcePathStyle: true });
    // The database and the object store are given the same secrets the relays use.
    expect(compose.services.postgres!.environment!.POSTGRES_PASSWORD).toBe(new URL(env.RELAYPACS_DATABASE_URL!).password);
    const s3 = JSON.parse(text('docs/deploy/seaweedfs-s3.json')) as { identities: { credentials: { accessKey: string; secretKey: string }[] }[] };
    expect(s3.identities[0]!.credentials[0]).toEqual({ accessKey: env.AWS_ACCESS_KEY_ID, secretKey: env.AWS_SECRET_ACCESS_KEY });
    expect(compose.services.s3!.image).not.toMatch(/^minio\//);
  });

  it('balances round robin over exactly those relays, checked by /readyz, in a configuration HAProxy accepts', () => {
    const cfg = text('docs/deploy/haproxy.cfg');
    expect(cfg).toMatch(/balance roundrobin/);
    expect(cfg).toMatch(/option httpchk GET \/readyz/);
    expect([...cfg.matchAll(/^\s*server (\S+) (\S+):8780 /gm)].map((m) => [m[1], m[2]])).toEqual(relays.map(([name]) => [name, name]));
    const check = spawnSync('haproxy', ['-c', '-f', join(root, 'docs/deploy/haproxy.cfg')], { encoding: 'utf8' });
    expect(check.error, 'haproxy is installed by scripts/setup/system-packages.sh').toBeUndefined();
    expect(check.status, check.stderr).toBe(0);
  });
});

describe('docs/deploy/kubernetes/relay.yaml', () => {
  type Env = { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } } };
  type Probe = { httpGet: { path: string; port: string } };
  type Container = {
    image: string; env: Env[]; ports: { name: string; containerPort: number }[]; readinessProbe: Probe; livenessProbe: Probe;
    securityContext: { readOnlyRootFilesystem: boolean; allowPrivilegeEscalation: boolean }; volumeMounts: { name: string; mountPath: string }[];
  };
  type Doc = { kind: string; metadata: { name: string }; data?: Record<string, string>; spec?: Record<string, unknown> };
  const docs = yaml.loadAll(text('docs/deploy/kubernetes/relay.yaml')) as Doc[];
  const byKind = (kind: string) => docs.find((d) => d.kind === kind)!;

  it('runs three replicas of the relay on the two URLs from one Secret, each named by its pod, ready only on /readyz', () => {
    expect(docs.map((d) => d.kind)).toEqual(['ConfigMap', 'Deployment', 'Service', 'PodDisruptionBudget']);
    const deployment = byKind('Deployment').spec as { replicas: number; template: { spec: { containers: Container[]; securityContext: { runAsUser: number } } } };
    expect(deployment.replicas).toBe(3);
    const [relay] = deployment.template.spec.containers;
    const env = new Map(relay!.env.map((e) => [e.name, e]));
    for (const [name, key] of [['RELAYPACS_DATABASE_URL', 'database-url'], ['RELAYPACS_STORAGE_URL', 'storage-url'], ['AWS_ACCESS_KEY_ID', 'aws-access-key-id'], ['AWS_SECRET_ACCESS_KEY', 'aws-secret-access-key']]) {
      expect(env.get(name!)?.valueFrom?.secretKeyRef).toEqual({ name: 'relaypacs-relay', key });
    }
    expect(env.get('RELAYPACS_INSTANCE_NAME')?.valueFrom?.fieldRef).toEqual({ fieldPath: 'metadata.name' });
    expect(relay!.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(relay!.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    // The image's user (server/Dockerfile), a read-only root, and the data directory the image declares as writable.
    expect(deployment.template.spec.securityContext.runAsUser).toBe(10001);
    expect(text('server/Dockerfile')).toMatch(/useradd --system --uid 10001 /);
    expect(relay!.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(relay!.volumeMounts.map((m) => m.mountPath)).toContain('/var/lib/relaypacs');
    expect(text('server/Dockerfile')).toMatch(/RELAYPACS_DATA=\/var\/lib\/relaypacs/);
  });

  it('mounts a relay configuration the relay accepts, listening where the Service and the probes look', () => {
    const config = parseRelayConfig(JSON.parse(byKind('ConfigMap').data!['relay.json']!) as Record<string, unknown>, 'kubernetes/relay.yaml');
    const deployment = byKind('Deployment').spec as { template: { spec: { containers: Container[] } } };
    const ports = new Map(deployment.template.spec.containers[0]!.ports.map((p) => [p.name, p.containerPort]));
    expect([config.host, config.port, config.metrics.port]).toEqual(['0.0.0.0', ports.get('http'), ports.get('metrics')]);
    expect(effectiveDestinations(config).map((d) => d.kind)).toEqual(['stow-rs']);
    expect((byKind('Service').spec as { ports: { targetPort: string }[] }).ports[0]!.targetPort).toBe('http');
    expect((byKind('PodDisruptionBudget').spec as { minAvailable: number }).minAvailable).toBe(2);
  });
});

describe('server/deploy/relaypacs-relay.service', () => {
  const service = unit(text('server/deploy/relaypacs-relay.service'));
  const one = (key: string) => service.get('Service')!.get(key)?.[0];

  it('has the sections and starts the relay with its config passed as a credential', () => {
    expect([...service.keys()]).toEqual(['Unit', 'Service', 'Install']);
    expect(one('ExecStart')).toBe('/usr/bin/node --max-semi-space-size=8 /opt/relaypacs/server/bin/relaypacs-relay.js --config ${CREDENTIALS_DIRECTORY}/relay.json');
    expect(service.get('Service')!.get('LoadCredential')).toContain('relay.json:/etc/relaypacs/relay.json');
    expect(service.get('Install')!.get('WantedBy')).toEqual(['multi-user.target']);
  });

  it('is hardened: its own user, read-only system, a state directory for the data', () => {
    expect(one('DynamicUser')).toBe('yes');
    expect(one('NoNewPrivileges')).toBe('yes');
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('ProtectHome')).toBe('yes');
    expect(one('PrivateTmp')).toBe('yes');
    expect(one('StateDirectory')).toBe('relaypacs-relay');
    expect(one('StateDirectoryMode')).toBe('0700');
    expect(service.get('Service')!.get('Environment')).toContain('RELAYPACS_DATA=/var/lib/relaypacs-relay');
    expect(one('CapabilityBoundingSet')).toBe('');
    expect(one('RestrictAddressFamilies')).toBe('AF_INET AF_INET6 AF_UNIX');
  });

  it('the example config it reads is a valid relay config', () => {
    const config = parseRelayConfig(JSON.parse(text('server/deploy/relay.example.json')) as Record<string, unknown>, 'relay.example.json');
    expect(config.tls?.keyFile).toBe('/run/credentials/relaypacs-relay.service/tls.key');
  });
});

describe('the image health check script', () => {
  let dataDir: string;
  let relay: Awaited<ReturnType<typeof spawnRelay>>;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'relaypacs-healthcheck-'));
    relay = await spawnRelay(dataDir, join(dataDir, 'relay.log'));
  });
  afterAll(async () => {
    await relay?.process.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  const check = (url: string) => spawnSync(process.execPath, [join(root, 'server/deploy/healthcheck.mjs')], { env: { ...process.env, RELAYPACS_HEALTH_URL: url }, encoding: 'utf8', timeout: 15_000 });

  it('exits 0 against a running relay and 1 where nothing answers', async () => {
    expect(check(`${relay.url}/healthz`).status).toBe(0);
    const closed = check(`http://127.0.0.1:${await freeLoopbackPort()}/healthz`);
    expect(closed.status).toBe(1);
    expect(closed.stderr).toMatch(/healthcheck: .*ECONNREFUSED/);
    expect(check(`${relay.url}/no-such-page`).status).toBe(1);
  });
});
