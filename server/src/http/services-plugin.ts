import fp from 'fastify-plugin';
import type { RelayServices } from '../relay-services.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The relay's services, built once (relay-services.ts) and shared by every route plugin. */
    services: RelayServices;
  }
}

/** The name route plugins declare in their `dependencies`: registering one before this fails at start. */
export const RELAY_SERVICES_PLUGIN = 'relay-services';

/** Decorates the instance with the relay's services, once, for the plugins registered after it. */
export const relayServicesPlugin = fp<{ services: RelayServices }>((app, { services }, done) => {
  app.decorate('services', services);
  done();
}, { name: RELAY_SERVICES_PLUGIN, fastify: '5.x' });
