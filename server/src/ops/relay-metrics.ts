import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one relay (its own registry, so several relays in one test process don't mix). */
export class RelayMetrics {
  readonly registry = new Registry();
  readonly uploadsStarted = new Counter({ name: 'relaypacs_uploads_started_total', help: 'Uploads initiated (new, not resumed)', registers: [this.registry] });
  readonly uploadsCompleted = new Counter({ name: 'relaypacs_uploads_completed_total', help: 'Uploads completed and handed to forwarding', registers: [this.registry] });
  readonly uploadsExpired = new Counter({ name: 'relaypacs_uploads_expired_total', help: 'Abandoned uploads deleted by cleanup', registers: [this.registry] });
  readonly activeUploads = new Gauge({ name: 'relaypacs_uploads_active', help: 'Uploads receiving data', registers: [this.registry] });
  readonly bytesReceived = new Counter({ name: 'relaypacs_upload_bytes_received_total', help: 'Chunk bytes acknowledged', registers: [this.registry] });
  readonly chunkSeconds = new Histogram({
    name: 'relaypacs_chunk_duration_seconds', help: 'Time to receive, hash and fsync one chunk',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [this.registry],
  });
  readonly chunkRejections = new Counter({ name: 'relaypacs_chunk_rejections_total', help: 'Chunks refused, by reason', labelNames: ['reason'], registers: [this.registry] });
  readonly instanceRejections = new Counter({ name: 'relaypacs_instance_rejections_total', help: 'Instances rejected by validation, by reason', labelNames: ['reason'], registers: [this.registry] });
  readonly deliveredInstances = new Counter({ name: 'relaypacs_delivered_instances_total', help: 'Instances stored by a destination', labelNames: ['destination'], registers: [this.registry] });
  readonly deliveryFailures = new Counter({ name: 'relaypacs_delivery_failures_total', help: 'Instance deliveries that failed, by destination and reason (transient ones are retried)', labelNames: ['destination', 'reason'], registers: [this.registry] });
  readonly deliverySeconds = new Histogram({
    name: 'relaypacs_delivery_batch_duration_seconds', help: 'Time for a destination to answer one batch', labelNames: ['destination'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120], registers: [this.registry],
  });
  readonly reportsFound = new Counter({ name: 'relaypacs_reports_found_total', help: 'Reports found in destinations for delivered studies, by status', labelNames: ['destination', 'status'], registers: [this.registry] });
  readonly reportChecks = new Counter({ name: 'relaypacs_report_checks_total', help: 'Rounds in which a destination was asked about reports (each one query or feed read, and more only for studies that changed)', labelNames: ['destination'], registers: [this.registry] });
  /** From an upload's init to every instance delivered in one destination (issue 19): the figure a department is judged by. */
  readonly studyTimeToPacs = new Histogram({
    name: 'relaypacs_study_time_to_pacs_seconds', help: 'Seconds from an upload\'s start to its last instance delivered in a destination',
    labelNames: ['destination', 'service_level'], buckets: [5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600], registers: [this.registry],
  });
  /** Studies whose delivery ended everywhere, by outcome; modality from a fixed list and facility from configuration keep the labels few. */
  readonly studiesFinished = new Counter({
    name: 'relaypacs_studies_total', help: 'Studies whose delivery ended in every destination, by outcome (delivered, failed), modality and facility',
    labelNames: ['outcome', 'modality', 'facility'], registers: [this.registry],
  });
  readonly deliveryOldestQueued = new Gauge({ name: 'relaypacs_delivery_oldest_queued_seconds', help: 'Seconds the longest-waiting queued item of a destination has waited (0: none queued)', labelNames: ['destination'], registers: [this.registry] });
  readonly deliveryQueueDepth = new Gauge({ name: 'relaypacs_delivery_queue_depth', help: 'Instances queued or being sent, per destination', labelNames: ['destination'], registers: [this.registry] });
  readonly logins = new Counter({ name: 'relaypacs_logins_total', help: 'Login attempts by outcome', labelNames: ['outcome'], registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'relaypacs_' });
    // prom-client names three gauges with a counter's "_total" suffix, which promtool check metrics
    // (and Prometheus's naming rules) refuse. What they count is in relaypacs_nodejs_active_resources
    // (by type), which prom-client also gives.
    for (const misnamed of ['active_handles_total', 'active_requests_total', 'active_resources_total']) this.registry.removeSingleMetric(`relaypacs_nodejs_${misnamed}`);
  }
}
