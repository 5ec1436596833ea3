import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import type { RelayConfig } from './config/relay-config.js';
import { createRelayServices, type RelayServices } from './relay-services.js';

export interface RunningRelay {
  app: FastifyInstance;
  services: RelayServices;
  url: string;
  close(): Promise<void>;
}

/**
 * Starts the relay: services, app, listen, background jobs. Only this file listens and closes.
 * Logs are JSON (pino) with request and upload ids; bodies and Authorization headers are never logged.
 */
export async function startRelayServer(config: RelayConfig): Promise<RunningRelay> {
  const services = await createRelayServices(config);
  const https = config.tls
    ? { key: await readFile(config.tls.keyFile), cert: await readFile(config.tls.certFile) }
    : undefined;
  const app = await buildApp(services, {
    logger: {
      level: config.logLevel,
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], remove: true },
    },
    ...(https ? { https } : {}),
  });
  services.uploads.setLogger(app.log);
  services.deliveries.setLogger(app.log);
  await app.listen({ host: config.host, port: config.port });
  services.uploads.start();
  services.deliveries.start();
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `${https ? 'https' : 'http'}://${host}:${port}`;
  let closing: Promise<void> | undefined;
  return {
    app, services, url,
    close() {
      closing ??= (async () => {
        await app.close();
        await services.close();
      })();
      return closing;
    },
  };
}
