import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import type { RelayConfig } from './config/relay-config.js';
import { relayLogDestination } from './log/relay-log.js';
import { startMetricsListener, type MetricsListener } from './ops/metrics-listener.js';
import { createRelayServices, type RelayServices } from './relay-services.js';

export interface RunningRelay {
  app: FastifyInstance;
  services: RelayServices;
  url: string;
  /** The metrics listener's address (metrics.port), when it runs. */
  metricsUrl: string | undefined;
  /** Where the log goes, in words, when not JSON on stdout (relay-log.ts). */
  logDescription: string | undefined;
  close(): Promise<void>;
}

/**
 * Starts the relay: services, app, listen, background jobs. Only this file listens and closes.
 * Logs are JSON (pino) with request and upload ids; bodies and Authorization headers are never logged.
 * Where they go (stdout, a terminal, a file) is decided in log/relay-log.ts.
 */
export async function startRelayServer(config: RelayConfig): Promise<RunningRelay> {
  const services = await createRelayServices(config);
  const https = config.tls
    ? { key: await readFile(config.tls.keyFile), cert: await readFile(config.tls.certFile) }
    : undefined;
  const metricsBearerToken = config.metrics.bearerTokenFile ? (await readFile(config.metrics.bearerTokenFile, 'utf8')).trim() : undefined;
  if (metricsBearerToken === '') throw new Error(`metrics.bearerTokenFile ${config.metrics.bearerTokenFile} is empty`);
  const log = relayLogDestination({ logFile: config.logFile, level: config.logLevel });
  const logger = {
    level: config.logLevel,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], remove: true },
    ...(log.stream ? { stream: log.stream } : {}),
  };
  const app = await buildApp(services, { logger, ...(https ? { https } : {}), ...(metricsBearerToken ? { metricsBearerToken } : {}) });
  services.setLogger(app.log);
  await app.listen({ host: config.host, port: config.port });
  let metrics: MetricsListener | undefined;
  try {
    metrics = config.metrics.port === null ? undefined : await startMetricsListener(services, config.metrics.host, config.metrics.port, logger);
  } catch (error) {
    await app.close();
    await services.close();
    log.close();
    throw new Error(`cannot serve metrics on ${config.metrics.host}:${config.metrics.port} (${(error as Error).message}); set metrics.port (RELAYPACS_METRICS_PORT) to a free port, or to off`, { cause: error });
  }
  await services.uploads.start();
  await services.deliveries.start();
  services.reports.start();
  try {
    await services.startHl7Listener();
  } catch (error) {
    await app.close();
    await metrics?.close();
    await services.close();
    log.close();
    throw new Error(`cannot listen for HL7 reports on ${config.reports.hl7.host}:${config.reports.hl7.port} (${(error as Error).message}); set reports.hl7.port to a free port, or leave it out`, { cause: error });
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `${https ? 'https' : 'http'}://${host}:${port}`;
  let closing: Promise<void> | undefined;
  return {
    app, services, url, metricsUrl: metrics?.url, logDescription: log.description,
    close() {
      closing ??= (async () => {
        await metrics?.close();
        await app.close();
        await services.close();
        log.close();
      })();
      return closing;
    },
  };
}
