import { chmod, mkdir } from 'node:fs/promises';
import type { FastifyBaseLogger } from 'fastify';
import { createRequestGuards, type RequestGuards } from './auth/request-guards.js';
import { SigningKeyRing } from './auth/signing-keys.js';
import { TokenService } from './auth/token-service.js';
import { effectiveDestinations, effectiveInstanceName, type RelayConfig } from './config/relay-config.js';
import { RelayMetrics } from './ops/relay-metrics.js';
import { StoredEventBus, type RelayEventBus } from './ops/relay-events.js';
import { DeliveryQueue } from './forward/delivery-queue.js';
import { createDestination } from './destinations/destination-factory.js';
import type { Destination } from './forward/destination.js';
import { Router } from './forward/router.js';
import type { TemporaryStorage } from './storage/storage.js';
import type { AuditStore } from './store/audit-store.js';
import type { RelayStore } from './store/relay-store.js';
import { openRelayStore, openTemporaryStorage } from './relay-backends.js';
import { UploadService } from './upload/upload-service.js';
import { DEFAULT_REPORT_TITLES } from './reports/report-classification.js';
import { createReportFinder } from './reports/report-finders.js';
import type { ReportFinder } from './reports/report-finder.js';
import { ReportMonitor } from './reports/report-monitor.js';
import { Hl7Listener } from './reports/hl7/hl7-listener.js';
import { importLegacySigningKey } from './upgrade/import-legacy-signing-key.js';

/** Everything the relay's routes and jobs use, built once from the configuration. */
export interface RelayServices {
  config: RelayConfig;
  /** The relay's state: accounts, audit, uploads and the delivery queue (store/relay-store.ts). */
  store: RelayStore;
  /** The audit trail, the store's; one for every route and job. */
  audit: AuditStore;
  /** Awaited before every HTTP answer: what was committed is then on disk (RelayStore.flush). */
  durability: Pick<RelayStore, 'flush'>;
  storage: TemporaryStorage;
  tokens: TokenService;
  guards: RequestGuards;
  uploads: UploadService;
  deliveries: DeliveryQueue;
  /** Looks for reports of delivered studies and tells their senders (reports/report-monitor.ts). */
  reports: ReportMonitor;
  /** Starts the HL7 ORU listener when reports.hl7.port is set (once; closed with the services). */
  startHl7Listener(): Promise<Hl7Listener | undefined>;
  events: RelayEventBus;
  metrics: RelayMetrics;
  now: () => Date;
  /** The server's logger, once the app exists, for the services that log. */
  setLogger(log: FastifyBaseLogger): void;
  close(): Promise<void>;
}

export interface ServiceOverrides {
  now?: () => Date;
  storage?: TemporaryStorage;
  /** Replaces the destinations built from the configuration (tests). */
  destinations?: Destination[];
  /** Replaces the report finders built from the configuration (tests). */
  reportFinders?: Map<string, ReportFinder>;
}

/** Opens (or creates) the data directory, the store (relay-backends.ts), temporary storage and the signing key. */
export async function createRelayServices(config: RelayConfig, overrides: ServiceOverrides = {}): Promise<RelayServices> {
  const now = overrides.now ?? (() => new Date());
  let eventsLog: FastifyBaseLogger | undefined;
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  await chmod(config.dataDir, 0o700);
  const store = await openRelayStore(config, { flushedByCaller: true, now });
  await importLegacySigningKey(config.dataDir, store.signingKeys);
  const keys = await SigningKeyRing.open(store.signingKeys, {
    now, signals: store.signals, longestTokenSeconds: Math.max(config.auth.accessTokenSeconds, config.auth.uploadTokenSeconds),
  });
  keys.start();
  const tokens = new TokenService({ keys, issuer: config.auth.issuer, accessTokenSeconds: config.auth.accessTokenSeconds, now });
  const storage = overrides.storage ?? await openTemporaryStorage(config);
  const metrics = new RelayMetrics();
  const events = await StoredEventBus.open({
    events: store.events, signals: store.signals, now, pollMilliseconds: config.events.pollMilliseconds, retain: config.events.retainCount, log: () => eventsLog,
  });
  const destinationConfigs = effectiveDestinations(config);
  const destinationList = overrides.destinations ?? destinationConfigs.map(createDestination);
  const instanceName = effectiveInstanceName(config);
  const reportsConfig = config.reports;
  const finders = overrides.reportFinders ?? new Map(reportsConfig.enabled
    ? destinationConfigs.flatMap((d) => {
      const finder = createReportFinder(d, reportsConfig.maxContentBytes);
      return finder ? [[d.name, finder] as const] : [];
    })
    : []);
  let hl7Listener: Promise<Hl7Listener> | undefined;
  const reports = new ReportMonitor({
    store, events, finders, instanceName, now, log: () => eventsLog,
    watchEveryDestination: reportsConfig.enabled && reportsConfig.hl7.port !== null,
    policy: { ...reportsConfig, titles: reportsConfig.titles ?? DEFAULT_REPORT_TITLES },
    onReport: (destination, status) => metrics.reportsFound.inc({ destination, status }),
    onPacsRequest: (destination) => metrics.reportChecks.inc({ destination }),
  });
  const deliveries = new DeliveryQueue({
    store, instanceName, storage, metrics, events, now, delivery: config.delivery,
    onDestinationDelivered: (delivered) => reports.watchDelivered(delivered),
    metricFacilities: new Set(config.metrics.facilities),
    destinations: new Map(destinationList.map((d) => [d.name, d])),
    confirming: new Set(destinationConfigs.filter((d) => d.confirm).map((d) => d.name)),
    router: new Router(config.routes, destinationList.map((d) => d.name)),
  });
  const uploads = new UploadService({
    store, instanceName, storage, tokens, metrics, events, limits: config.upload, uploadTokenSeconds: config.auth.uploadTokenSeconds, now,
    onInstanceVerified: (tx, uploadId, index) => deliveries.enqueueInstance(tx, uploadId, index),
    onStudyAccepted: (uploadId) => deliveries.studyAccepted(uploadId),
    deliveryItems: (uploadId) => deliveries.itemsOf(uploadId),
  });
  return {
    config, store, audit: store.audit, durability: store, storage, tokens, metrics, uploads, deliveries, reports, events, now,
    startHl7Listener() {
      const { hl7 } = reportsConfig;
      if (hl7.port === null || !reportsConfig.enabled) return Promise.resolve(undefined);
      hl7Listener ??= Hl7Listener.start({
        ...hl7, port: hl7.port, store, events, now, log: () => eventsLog,
        onReport: (status) => metrics.reportsFound.inc({ destination: 'hl7', status }),
      });
      return hl7Listener;
    },
    guards: createRequestGuards(tokens, (sessionId, userId) => store.sessions.isActive(sessionId, userId)),
    setLogger(log) {
      eventsLog = log;
      uploads.setLogger(log);
      deliveries.setLogger(log);
    },
    async close() {
      keys.stop();
      await uploads.close();
      await (await hl7Listener?.catch(() => undefined))?.close();
      await reports.stop();
      await deliveries.stop();
      await events.close();
      await store.close();
      await storage.close();
    },
  };
}
