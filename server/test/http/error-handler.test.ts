// The relay's one error handler: a database or storage that does not answer is the client's 503 with
// Retry-After (try again shortly), never a 500, and its driver's message never reaches the client.
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { installErrorHandler } from '../../src/http/error-handler.js';
import { StorageUnavailableError } from '../../src/storage/storage.js';
import { StoreUnavailableError } from '../../src/store/relay-store.js';

describe('error handler', () => {
  it.each([
    ['the database', new StoreUnavailableError('connect ECONNREFUSED db.internal:5432 (user relay)')],
    ['the storage', new StorageUnavailableError('getaddrinfo ENOTFOUND s3.internal')],
  ])('answers 503 RELAY_UNAVAILABLE with Retry-After when %s does not answer', async (_name, failure) => {
    const app = Fastify({ logger: false });
    installErrorHandler(app);
    app.get('/work', async () => {
      throw failure;
    });
    const answer = await app.inject({ method: 'GET', url: '/work' });
    expect(answer.statusCode).toBe(503);
    expect(answer.headers['retry-after']).toBe('5');
    expect(answer.json()).toMatchObject({ error: { code: 'RELAY_UNAVAILABLE' } });
    expect(answer.body).not.toMatch(/internal|ECONN|ENOTFOUND|relay\)/);
    await app.close();
  });

  it('still answers anything else unexpected with a 500 that names only the request', async () => {
    const app = Fastify({ logger: false });
    installErrorHandler(app);
    app.get('/work', async () => {
      throw new Error('secret detail');
    });
    const answer = await app.inject({ method: 'GET', url: '/work' });
    expect(answer.statusCode).toBe(500);
    expect(answer.json()).toMatchObject({ error: { code: 'INTERNAL' } });
    expect(answer.body).not.toMatch(/secret/);
    await app.close();
  });
});
