import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relayRoutes } from '../../src/app.js';
import { authRoutes } from '../../src/auth/auth-routes.js';
import { userAdminRoutes } from '../../src/auth/user-admin-routes.js';
import { auditExportRoute } from '../../src/ops/audit-export-route.js';
import { eventsRoute } from '../../src/ops/events-route.js';
import { healthRoutes } from '../../src/ops/health-routes.js';
import { metricsRoute } from '../../src/ops/metrics-route.js';
import { uploadRoutes } from '../../src/upload/upload-routes.js';
import { startTestRelay, type TestRelay } from '../support/test-relay.js';

let relay: TestRelay;
beforeAll(async () => {
  relay = await startTestRelay();
});
afterAll(async () => {
  await relay?.close();
});

describe('route plugins', () => {
  it('each declares the relay services as its dependency: registered without them, the app does not start', async () => {
    const registrations: ((app: FastifyInstance) => PromiseLike<unknown>)[] = [
      (app) => app.register(healthRoutes), (app) => app.register(metricsRoute), (app) => app.register(eventsRoute, { https: false }),
      (app) => app.register(auditExportRoute), (app) => app.register(authRoutes), (app) => app.register(userAdminRoutes),
      (app) => app.register(uploadRoutes),
    ];
    for (const register of registrations) {
      const app = Fastify();
      await expect(register(app)).rejects.toThrow(/relay-services/);
      await app.close();
    }
  });

  it('share one set of services, decorated once on the instance', async () => {
    const app = Fastify();
    await app.register(relayRoutes, { services: relay.services, https: false });
    await app.ready();
    expect(app.services).toBe(relay.services);
    expect(app.hasDecorator('services')).toBe(true);
    await app.close();
  });
});
