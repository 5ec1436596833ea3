import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The three storage servers, each with its own ring; the proxy finds them through the rings. */
export const SWIFT_STORAGE_SERVERS = ['account', 'container', 'object'] as const;
export type SwiftStorageServer = (typeof SWIFT_STORAGE_SERVERS)[number];

/** The one device (a plain directory under `<workDir>/devices`) every ring places its single replica on. */
const DEVICE = 'd1';

export interface SwiftLayout {
  workDir: string;
  proxyPort: number;
  storagePorts: Record<SwiftStorageServer, number>;
  /**
   * tempauth insists on a memcache client in the request (it raises "Memcache required" without
   * the cache middleware), but S3 requests are authenticated by signature and never need a cached
   * token, and the proxy reads account and container info from the servers when the cache misses.
   * So the middleware points at a loopback port where nothing listens: every lookup is a miss, and
   * no other test's memcached (nor the default 127.0.0.1:11211) can hand this server stale state.
   */
  memcachePort: number;
  /** tempauth account and user; the S3 access key is `account:user`, the secret the user's key. */
  account: string;
  user: string;
  key: string;
}

/**
 * Swift drops privileges to `user` (default `swift`) at start. As root, root: the temporary
 * directory is root's and nothing is gained by a chown dance. As anyone else, that user, since
 * only root may switch.
 */
function serviceUser(): string {
  return process.getuid?.() === 0 ? 'root' : userInfo().username;
}

function defaults(layout: SwiftLayout, port: number, logName: string): string {
  return [
    '[DEFAULT]',
    'bind_ip = 127.0.0.1',
    `bind_port = ${port}`,
    // workers = 0 serves from the process we start, with no forked workers to chase at stop.
    'workers = 0',
    `user = ${serviceUser()}`,
    // Rings and mime.types come from here. swift.conf (hash prefix, storage policies) does not:
    // Swift 2.30's servers always read /etc/swift/swift.conf, which Debian's swift package installs.
    `swift_dir = ${layout.workDir}`,
    `devices = ${join(layout.workDir, 'devices')}`,
    // The devices are directories, not mounted disks.
    'mount_check = false',
    `log_name = ${logName}`,
    '',
  ].join('\n');
}

function storageServerConfig(layout: SwiftLayout, server: SwiftStorageServer): string {
  return `${defaults(layout, layout.storagePorts[server], `${server}-server`)}
[pipeline:main]
pipeline = ${server}-server

[app:${server}-server]
use = egg:swift#${server}
`;
}

function proxyConfig(layout: SwiftLayout): string {
  return `${defaults(layout, layout.proxyPort, 'proxy-server')}
[pipeline:main]
# s3api before tempauth (s3api checks the order at start). versioned_writes is listed because the
# proxy inserts it anyway, with a warning, when it is missing.
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo versioned_writes proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
# The tempauth account has no account database until something creates it: the first request does.
account_autocreate = true

[filter:s3api]
use = egg:swift#s3api
# SigV4 signs the region into the credential scope and s3api rejects a scope naming any region
# but its location (AuthorizationHeaderMalformed), so clients must use this region.
location = us-east-1
# As on AWS, bucket names must be DNS names (3-63 characters, lower case): keep it strict so tests
# fail here on a name the real service would refuse.
dns_compliant_bucket_names = true
# Without s3_acl, ownership is Swift's container ACLs and allow_no_owner does not apply.
s3_acl = false

[filter:tempauth]
use = egg:swift#tempauth
user_${layout.account}_${layout.user} = ${layout.key} .admin

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:${layout.memcachePort}

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo

[filter:versioned_writes]
use = egg:swift#versioned_writes
`;
}

export function configPath(workDir: string, server: SwiftStorageServer | 'proxy'): string {
  return join(workDir, `${server}-server.conf`);
}

/**
 * Builds the rings the way `swift-ring-builder <file> create 2 1 1`, `add r1z1-IP:PORT/d1 1` and
 * `rebalance` would (part power 2, one replica, one device), but with swift-ring-builder's own
 * library in one Python process: the nine commands are nine interpreter start-ups, measured at
 * 3.5 to 10 s on a busy 2-core machine (most of a start) against 0.9 s for this. The .builder files
 * are saved too, so `swift-ring-builder <workDir>/object.builder` can inspect a failing run.
 */
const RING_SCRIPT = `
import json, os, sys
from swift.common.ring import RingBuilder
work_dir, devices = sys.argv[1], json.loads(sys.argv[2])
for name, port in devices.items():
    builder = RingBuilder(2, 1, 1)
    builder.add_dev({'id': 0, 'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': port, 'device': '${DEVICE}', 'weight': 1})
    builder.rebalance()
    builder.save(os.path.join(work_dir, name + '.builder'))
    builder.get_ring().save(os.path.join(work_dir, name + '.ring.gz'))
`;

/**
 * Debian's Swift is a module of the system interpreter (/usr/lib/python3/dist-packages), which a
 * `python3` earlier on PATH (a virtualenv, /usr/local) cannot import.
 */
const SYSTEM_PYTHON = '/usr/bin/python3';

/** The account, container and object rings. */
export async function buildRings(layout: SwiftLayout): Promise<void> {
  await run(SYSTEM_PYTHON, ['-c', RING_SCRIPT, layout.workDir, JSON.stringify(layout.storagePorts)], { cwd: layout.workDir })
    .catch((error: { stderr?: string; message: string }) => {
      throw new Error(`building the Swift rings failed: ${error.stderr ?? error.message}`);
    });
}

/**
 * The device directory and every configuration file. The storage servers need no ring to start,
 * so they can start while buildRings() runs; the proxy reads the rings at start.
 */
export async function writeSwiftConfigs(layout: SwiftLayout): Promise<void> {
  await mkdir(join(layout.workDir, 'devices', DEVICE), { recursive: true });
  await Promise.all([
    ...SWIFT_STORAGE_SERVERS.map((server) => writeFile(configPath(layout.workDir, server), storageServerConfig(layout, server))),
    writeFile(configPath(layout.workDir, 'proxy'), proxyConfig(layout)),
  ]);
}
