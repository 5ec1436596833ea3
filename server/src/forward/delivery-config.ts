import { Type, type Static } from 'typebox';

/** Credentials a destination presents. Secrets in the config file: keep it readable by the relay only. */
const DestinationAuth = Type.Union([
  Type.Object({ type: Type.Literal('none') }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('basic'), username: Type.String(), password: Type.String() }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('bearer'), token: Type.String() }, { additionalProperties: false }),
]);

const Name = Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' });

export const DestinationConfig = Type.Union([
  Type.Object({
    name: Name, kind: Type.Literal('stow-rs'),
    /** DICOMweb root, e.g. http://pacs:8042/dicom-web */
    url: Type.String({ pattern: '^https?://' }),
    auth: Type.Optional(DestinationAuth),
    caFile: Type.Optional(Type.String()),
    maxInstancesPerRequest: Type.Optional(Type.Integer({ minimum: 1 })),
    maxBytesPerRequest: Type.Optional(Type.Integer({ minimum: 1 })),
    /** After storing, check through QIDO-RS that every instance is there. */
    confirm: Type.Optional(Type.Boolean()),
    /** Look for reports of delivered studies here (QIDO-RS); default true when reports are enabled. */
    reports: Type.Optional(Type.Boolean()),
  }, { additionalProperties: false }),
  Type.Object({
    name: Name, kind: Type.Literal('orthanc-rest'),
    url: Type.String({ pattern: '^https?://' }),
    auth: Type.Optional(DestinationAuth),
    caFile: Type.Optional(Type.String()),
    confirm: Type.Optional(Type.Boolean()),
    /** Look for reports of delivered studies here (Orthanc's change feed); default true when reports are enabled. */
    reports: Type.Optional(Type.Boolean()),
  }, { additionalProperties: false }),
  Type.Object({
    name: Name, kind: Type.Literal('c-store'),
    host: Type.String(), port: Type.Integer({ minimum: 1, maximum: 65535 }),
    calledAet: Type.String({ minLength: 1, maxLength: 16 }),
    callingAet: Type.Optional(Type.String({ minLength: 1, maxLength: 16 })),
    confirm: Type.Optional(Type.Boolean()),
    /**
     * Look for reports here with C-FIND and C-GET (the PACS must let the relay's AE query and
     * retrieve): true asks the same host, port and AE title; an object names another query service.
     * Off unless given.
     */
    reports: Type.Optional(Type.Union([Type.Boolean(), Type.Object({
      host: Type.Optional(Type.String()), port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
      calledAet: Type.Optional(Type.String({ minLength: 1, maxLength: 16 })),
    }, { additionalProperties: false })])),
  }, { additionalProperties: false }),
  Type.Object({
    name: Name, kind: Type.Literal('folder'),
    directory: Type.String({ minLength: 1 }),
    confirm: Type.Optional(Type.Boolean()),
  }, { additionalProperties: false }),
]);
export type DestinationConfig = Static<typeof DestinationConfig>;

/**
 * A routing rule: a study (or, with sopClass, an instance) matching every listed criterion goes to
 * the rule's destinations. Criteria left out match anything. Rules add up: a study matching two
 * rules goes to the destinations of both.
 */
export const RouteConfig = Type.Object({
  name: Type.Optional(Type.String()),
  match: Type.Object({
    modality: Type.Optional(Type.Array(Type.String())),
    serviceLevel: Type.Optional(Type.Array(Type.Union([Type.Literal('STAT'), Type.Literal('ROUTINE')]))),
    sourceWorkstation: Type.Optional(Type.Array(Type.String())),
    facility: Type.Optional(Type.Array(Type.String())),
    user: Type.Optional(Type.Array(Type.String())),
    sopClass: Type.Optional(Type.Array(Type.String())),
  }, { additionalProperties: false, default: {} }),
  destinations: Type.Array(Name, { minItems: 1 }),
}, { additionalProperties: false });
export type RouteConfig = Static<typeof RouteConfig>;

export const DeliveryConfig = Type.Object({
  /** First retry after a transient failure; doubles per attempt, with jitter, up to the maximum. */
  initialBackoffSeconds: Type.Number({ minimum: 0.01, default: 2 }),
  maxBackoffSeconds: Type.Number({ minimum: 0.01, default: 300 }),
  /**
   * Transient failures of one instance after which it fails for good ("gave up after N attempts"),
   * so the workstation shows the study failed and a person retries it once the PACS is back. Left
   * out (the default), transient failures retry forever.
   */
  maxAttempts: Type.Optional(Type.Integer({ minimum: 1 })),
  /**
   * Batches sent to one destination at once. Two let the PACS store one batch while the next is
   * read and sent (and use a second core); a PACS that wants one request at a time is given 1.
   */
  parallelBatches: Type.Integer({ minimum: 1, maximum: 16, default: 2 }),
  /**
   * While a study is still arriving, a batch that is not full waits this long from its first
   * instance's turn for more to join it: each request and its confirmation cost the PACS a fixed
   * time, so 2,000 small instances sent a few at a time as they arrive would take many times
   * longer. A study that has arrived (or a retry) is sent at once. 0 sends whatever is due.
   */
  gatherMs: Type.Integer({ minimum: 0, maximum: 10_000, default: 250 }),
  /**
   * The lease on an item being sent: its relay renews it every third of this while a worker sends
   * the item, however long the PACS takes. Once it lapses (the relay died, or a worker left the item
   * behind), any relay sharing the database queues the item again. A relay requeues its own items
   * at its next start and at a graceful stop without waiting for the lease.
   */
  sendingLeaseSeconds: Type.Number({ minimum: 0.1, default: 60 }),
}, { additionalProperties: false, default: {} });
export type DeliveryConfig = Static<typeof DeliveryConfig>;
