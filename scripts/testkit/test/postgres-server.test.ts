import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { liveProcessGroupMembers, PostgresServer } from '../src/index.js';

/** Every server a test started, stopped again (stop() is idempotent) even when the test failed midway. */
const started: PostgresServer[] = [];
async function startServer(): Promise<PostgresServer> {
  const server = await PostgresServer.start();
  started.push(server);
  return server;
}

afterAll(async () => {
  await Promise.all(started.map((server) => server.stop()));
});

/** System V shared memory ids in use on this machine. */
async function sharedMemoryIds(): Promise<string[]> {
  const lines = (await readFile('/proc/sysvipc/shm', 'utf8')).trim().split('\n').slice(1);
  return lines.map((line) => line.trim().split(/\s+/)[1]!);
}

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

describe('PostgreSQL harness', () => {
  it('keeps a committed row across a SIGKILL and restart, and stops leaving nothing behind', async () => {
    const server = await startServer();
    expect(server.url).toMatch(new RegExp(`^postgres://relaypacs:[0-9a-f]+@127\\.0\\.0\\.1:${server.port}/relaypacs$`));
    await withClient(server.url, async (client) => {
      const who = await client.query<{ user: string; super: boolean }>("SELECT current_user AS user, current_setting('is_superuser') = 'on' AS super");
      expect(who.rows[0]).toEqual({ user: 'relaypacs', super: false });
      expect((await client.query<{ fsync: string }>('SHOW fsync')).rows[0]!.fsync).toBe('on');
      await client.query('CREATE TABLE receipts (id integer PRIMARY KEY, body text NOT NULL)');
      await client.query("INSERT INTO receipts VALUES (1, 'committed before the crash')");
    });

    const firstPid = server.pid!;
    const killed = await server.kill();
    expect(killed.signal).toBe('SIGKILL');
    expect(await liveProcessGroupMembers(firstPid)).toEqual([]);

    await server.restart();
    expect(server.pid).not.toBe(firstPid);
    const rows = await withClient(server.url, async (client) => (await client.query('SELECT id, body FROM receipts')).rows);
    expect(rows).toEqual([{ id: 1, body: 'committed before the crash' }]);
    expect(await server.logText()).toMatch(/database system was interrupted|not properly shut down/);

    const pid = server.pid!;
    const workDir = server.workDir;
    const stopped = await server.stop();
    expect(stopped).toMatchObject({ code: 0, forced: false });
    expect(await liveProcessGroupMembers(pid)).toEqual([]);
    await expect(stat(workDir)).rejects.toThrow(/ENOENT/);
  });

  it('refuses a wrong password over TCP', async () => {
    const server = await startServer();
    const wrong = server.url.replace(`:${server.password}@`, ':not-the-password@');
    await expect(withClient(wrong, async () => undefined)).rejects.toThrow(/password authentication failed/);
  });

  it('stopped after a kill, leaves neither its directory nor its shared memory', async () => {
    const server = await startServer();
    await server.kill();
    // The dead postmaster's pid file names its System V segment: "<key> <shmid>" on line 7.
    const shmid = (await readFile(join(server.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[6]!.trim().split(/\s+/)[1]!;
    expect(await sharedMemoryIds()).toContain(shmid);
    await server.stop();
    expect(await sharedMemoryIds()).not.toContain(shmid);
    await expect(stat(server.workDir)).rejects.toThrow(/ENOENT/);
  });
});
