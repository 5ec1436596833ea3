import Fastify, { type RouteOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relayRoutes } from '../../src/app.js';
import { RELAY_ERROR_CODES } from '../../src/protocol/error-codes.js';
import { ErrorResponse } from '../../src/protocol/error-response.js';
import { errorCode, startTestRelay, type TestRelay } from '../support/test-relay.js';

let relay: TestRelay;
const routes: RouteOptions[] = [];

beforeAll(async () => {
  relay = await startTestRelay();
  // The relay's routes registered again, on an app that notes each one as it is added.
  const app = Fastify();
  app.addHook('onRoute', (route) => {
    routes.push(route);
  });
  await app.register(relayRoutes, { services: relay.services, https: false, metricsBearerToken: 'scrape-token' });
  await app.ready();
  await app.close();
});
afterAll(async () => {
  await relay?.close();
});

const describeRoute = (route: RouteOptions) => `${String(route.method)} ${route.url}`;

describe('every route', () => {
  it('is registered (the list below is not empty by accident)', () => {
    expect(routes.map(describeRoute)).toEqual(expect.arrayContaining([
      'POST /auth/login', 'GET /admin/users', 'POST /upload/init', 'PUT /upload/:id/chunk', 'HEAD /upload/:id/status', 'GET /metrics', 'GET /events', 'GET /readyz',
    ]));
  });

  it('has a response schema for its success and the one error body for every 4xx and 5xx', () => {
    for (const route of routes) {
      const response = (route.schema?.response ?? {}) as Record<string, unknown>;
      const statuses = Object.keys(response);
      expect(statuses.some((status) => /^2\d\d$/.test(status)), `${describeRoute(route)} answers success without a schema`).toBe(true);
      expect(response['4xx'], `${describeRoute(route)} 4xx`).toBe(ErrorResponse);
      expect(response['5xx'], `${describeRoute(route)} 5xx`).toBe(ErrorResponse);
    }
  });

  it('validates what it reads: a body, query or params schema wherever it takes one', () => {
    for (const route of routes) {
      if (route.url.includes(':')) expect(route.schema?.params, `${describeRoute(route)} params`).toBeDefined();
      if (route.method === 'POST' && /^\/(auth|admin\/users$|upload\/init)/.test(route.url)) expect(route.schema?.body, `${describeRoute(route)} body`).toBeDefined();
    }
  });
});

describe('error codes', () => {
  it('the error body names exactly the wire table', () => {
    const code = (ErrorResponse.properties.error.properties.code as unknown as { enum: string[] }).enum;
    expect(code).toEqual(Object.keys(RELAY_ERROR_CODES));
  });

  it('are only ever codes of the table, however a request fails', async () => {
    const token = await relay.tokenFor('radiographer');
    const failures: Response[] = [
      await fetch(`${relay.url}/nowhere`),
      await relay.post('/auth/login', { username: 'nobody', password: 'x' }),
      await fetch(`${relay.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' }),
      await fetch(`${relay.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' }),
      await relay.post('/upload/init', { study: {} }, token),
      await relay.post('/upload/init', { study: {} }),
      await relay.get('/admin/users', token),
      await fetch(`${relay.url}/upload/abc/chunk?instance=0&offset=0`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, body: 'x' }),
      await relay.get('/upload/not%20an%20id/status', token),
      await relay.get('/readyz?bytes=-1'),
    ];
    for (const response of failures) {
      expect(response.status).toBeGreaterThanOrEqual(400);
      const code = await errorCode(response);
      expect(Object.keys(RELAY_ERROR_CODES), `${response.url} answered ${response.status} ${code}`).toContain(code);
    }
  });
});
