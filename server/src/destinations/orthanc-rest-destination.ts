import { httpStatusCode, type DeliveryFailureCode } from '../protocol/delivery-failure-codes.js';
import { sendInSteps } from './batch-steps.js';
import type { Destination, InstanceOutcome, InstanceToSend, StudyContext } from '../forward/destination.js';
import {
  DestinationHttpClient, permanentStatusReason, sizedInstanceBytes, throwIfTransientStatus, type HttpAnswer, type HttpAuth,
} from './destination-http.js';
import { checkStudyMembership } from './study-membership.js';

export interface OrthancRestDestinationOptions {
  name: string;
  /** Orthanc's REST root, e.g. http://orthanc:8042 (not its /dicom-web). */
  url: string;
  /** Orthanc's RegisteredUsers take basic auth; a bearer token suits its authorization plugin. */
  auth: HttpAuth;
  /** PEM file of the CA that signed Orthanc's certificate (Orthanc's SslEnabled, or a TLS proxy). */
  caFile?: string;
  /** The longest Orthanc may stay silent (not reading, not answering). Default 120 s. */
  timeoutMs?: number;
}

/** Each instance is its own request here; these only bound one store() call of the queue. */
export const ORTHANC_REST_BATCH_LIMITS = { maxInstances: 50, maxBytes: 256 * 1024 * 1024 } as const;
const DEFAULT_TIMEOUT_MS = 120_000;

/** Statuses that refuse every request alike: after one, the rest of the batch is not sent. */
const WHOLE_BATCH_REFUSALS = new Set<DeliveryFailureCode>(['HTTP_401', 'HTTP_403', 'HTTP_404']);

/**
 * Delivers to Orthanc through its REST API: POST /instances with one Part 10 file per request,
 * streamed from open(). Orthanc files an instance under whatever study its header names, so each
 * instance's header is checked against the batch's study first (study-membership.ts).
 */
export class OrthancRestDestination implements Destination {
  readonly kind = 'orthanc-rest' as const;
  readonly name: string;
  readonly batchLimits = { ...ORTHANC_REST_BATCH_LIMITS };
  private readonly url: string;
  private readonly http: DestinationHttpClient;

  constructor(options: OrthancRestDestinationOptions) {
    this.name = options.name;
    this.url = options.url.replace(/\/+$/, '');
    this.http = new DestinationHttpClient({ auth: options.auth, caFile: options.caFile, timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS });
  }

  async store(study: StudyContext, instances: readonly InstanceToSend[]): Promise<Map<string, InstanceOutcome>> {
    let refusedAll: InstanceOutcome | undefined;
    return sendInSteps(instances.map((instance) => [instance]), async ([instance]) => {
      if (!instance) return new Map();
      const outcome = refusedAll ?? await this.storeOne(study, instance, `instance ${instances.indexOf(instance) + 1} of ${instances.length}`);
      if (outcome.status === 'failed' && outcome.code !== undefined && WHOLE_BATCH_REFUSALS.has(outcome.code)) refusedAll = outcome;
      return new Map([[instance.sopInstanceUid, outcome]]);
    });
  }

  /** Which of these instances Orthanc holds, by POST /tools/lookup (one UID per request). */
  async confirm(_study: StudyContext, sopInstanceUids: readonly string[]): Promise<Set<string>> {
    const present = new Set<string>();
    for (const uid of new Set(sopInstanceUids)) {
      const answer = await this.http.exchange(`${this.url}/tools/lookup`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', accept: 'application/json' },
        body: uid,
      });
      throwIfTransientStatus(answer);
      if (answer.status !== 200 || answer.body === undefined) {
        throw new Error(permanentStatusReason(answer.status) ?? `Orthanc answered /tools/lookup with HTTP ${answer.status}`);
      }
      const matches: unknown = JSON.parse(answer.body);
      // A UID could in theory name a patient, study or series too: only an instance counts.
      if (Array.isArray(matches) && matches.some((match: { Type?: unknown } | null) => match?.Type === 'Instance')) present.add(uid);
    }
    return present;
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  private async storeOne(study: StudyContext, instance: InstanceToSend, label: string): Promise<InstanceOutcome> {
    const refused = await checkStudyMembership(study, instance);
    if (refused) return refused;
    const answer = await this.http.exchange(`${this.url}/instances`, {
      method: 'POST',
      headers: { 'content-type': 'application/dicom', 'content-length': String(instance.size), accept: 'application/json' },
      body: sizedInstanceBytes(instance, label),
    });
    throwIfTransientStatus(answer);
    return orthancOutcome(answer);
  }
}

/** The outcome of one POST /instances, from Orthanc's status and its JSON "Status" field. */
export function orthancOutcome(answer: Pick<HttpAnswer, 'status' | 'body'>): InstanceOutcome {
  const refused = permanentStatusReason(answer.status);
  if (refused) return { status: 'failed', permanent: true, reason: refused, code: httpStatusCode(answer.status) };
  const json = parseObject(answer.body);
  if (answer.status === 400) {
    // OrthancError is a fixed phrase ("Bad file format"); Details may quote the file, so it is left out.
    const orthancError = typeof json?.OrthancError === 'string' ? `: ${json.OrthancError}` : '';
    return { status: 'failed', permanent: true, reason: `not a valid DICOM file (Orthanc${orthancError})`, code: httpStatusCode(400) };
  }
  if (answer.status !== 200) {
    return { status: 'failed', permanent: true, reason: `Orthanc refused the instance (HTTP ${answer.status})`, code: httpStatusCode(answer.status) };
  }
  switch (json?.Status) {
    case 'Success':
      return { status: 'stored' };
    case 'AlreadyStored':
      return { status: 'stored', warning: 'Orthanc already held this instance and kept its copy (AlreadyStored)' };
    case 'FilteredOut':
      return { status: 'failed', permanent: true, reason: 'refused by a filter configured in Orthanc (FilteredOut)', code: 'FILTERED_OUT' };
    default:
      return { status: 'failed', permanent: false, reason: 'not acknowledged: Orthanc answered HTTP 200 without a known Status' };
  }
}

function parseObject(body: string | undefined): Record<string, unknown> | undefined {
  if (!body) return undefined;
  try {
    const json: unknown = JSON.parse(body);
    return typeof json === 'object' && json !== null && !Array.isArray(json) ? json as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  }
}
