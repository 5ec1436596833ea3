import { randomBytes } from 'node:crypto';
import { dicomStatusCode, httpStatusCode } from '../protocol/delivery-failure-codes.js';
import { sendInSteps, splitBatch } from './batch-steps.js';
import type { Destination, InstanceOutcome, InstanceToSend, StudyContext } from '../forward/destination.js';
import {
  DestinationHttpClient, permanentStatusReason, sizedInstanceBytes, throwIfTransientStatus, type HttpAnswer, type HttpAuth,
} from './destination-http.js';
import {
  failureReasonMeaning, parseQidoSopInstanceUids, parseStoreInstancesResponse, statusCodeHex, warningReasonMeaning,
  type StoreInstancesResponse,
} from './dicom-response.js';

export interface StowRsDestinationOptions {
  name: string;
  /** The DICOMweb root, e.g. https://pacs.example.org/dicom-web; requests go to `${url}/studies/...`. */
  url: string;
  auth: HttpAuth;
  /** PEM file of the CA that signed the PACS's certificate, when it is not publicly trusted. */
  caFile?: string;
  /** Instances in one STOW-RS request. Default 50. */
  maxInstancesPerRequest?: number;
  /** Bytes of instances in one STOW-RS request. Default 256 MiB. */
  maxBytesPerRequest?: number;
  /** The longest the PACS may stay silent (not reading, not answering). Default 120 s. */
  timeoutMs?: number;
  /** Offer confirm() through QIDO-RS (PS3.18 §10.6). Default true; turn off for a PACS without QIDO-RS. */
  confirm?: boolean;
}

export const STOW_RS_DEFAULTS = {
  maxInstancesPerRequest: 50,
  maxBytesPerRequest: 256 * 1024 * 1024,
  timeoutMs: 120_000,
} as const;

/** UIDs per QIDO-RS query: keeps the URL near 4 kB, well under common server limits (8 kB). */
const QIDO_UIDS_PER_QUERY = 50;
const QIDO_PAGE = 500;

/**
 * Delivers to a DICOMweb origin server with STOW-RS (PS3.18 §10.5): one multipart/related POST per
 * request-sized slice of the batch, to /studies/{StudyInstanceUID} so the server refuses any
 * instance of another study. Instance files are streamed from open(), never held whole.
 */
export class StowRsDestination implements Destination {
  readonly kind = 'stow-rs' as const;
  readonly name: string;
  readonly batchLimits: { maxInstances: number; maxBytes: number };
  /** Present unless the options turn it off (a PACS without QIDO-RS). */
  readonly confirm?: (study: StudyContext, sopInstanceUids: readonly string[]) => Promise<Set<string>>;
  private readonly url: string;
  private readonly http: DestinationHttpClient;

  constructor(options: StowRsDestinationOptions) {
    this.name = options.name;
    this.url = options.url.replace(/\/+$/, '');
    this.batchLimits = {
      maxInstances: options.maxInstancesPerRequest ?? STOW_RS_DEFAULTS.maxInstancesPerRequest,
      maxBytes: options.maxBytesPerRequest ?? STOW_RS_DEFAULTS.maxBytesPerRequest,
    };
    this.http = new DestinationHttpClient({ auth: options.auth, caFile: options.caFile, timeoutMs: options.timeoutMs ?? STOW_RS_DEFAULTS.timeoutMs });
    if (options.confirm !== false) this.confirm = (study, uids) => this.confirmWithQido(study, uids);
  }

  async store(study: StudyContext, instances: readonly InstanceToSend[]): Promise<Map<string, InstanceOutcome>> {
    const steps = splitBatch(instances, this.batchLimits.maxInstances, this.batchLimits.maxBytes);
    return sendInSteps(steps, (step) => this.storeRequest(study, step));
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  private async storeRequest(study: StudyContext, instances: readonly InstanceToSend[]): Promise<Map<string, InstanceOutcome>> {
    // 128 random bits: the boundary must not occur inside any part (RFC 2046 §5.1.1).
    const boundary = `relaypacs-${randomBytes(16).toString('hex')}`;
    const body = multipartRelatedBody(instances, boundary);
    const answer = await this.http.exchange(`${this.url}/studies/${encodeURIComponent(study.studyInstanceUid)}`, {
      method: 'POST',
      headers: {
        // PS3.18 §10.5.1.2: multipart/related of application/dicom parts (Part 10 files).
        'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
        'content-length': String(body.length),
        // JSON preferred; XML for servers that only write the Native DICOM Model (PS3.18 §8.7.3, q-values).
        accept: 'application/dicom+json, application/dicom+xml;q=0.9',
      },
      body: body.parts,
    });
    throwIfTransientStatus(answer);
    return stowOutcomes(answer, instances.map((instance) => instance.sopInstanceUid));
  }

  /** Which of these instances the origin server lists in the study, by QIDO-RS (PS3.18 §10.6). */
  private async confirmWithQido(study: StudyContext, sopInstanceUids: readonly string[]): Promise<Set<string>> {
    const wanted = new Set(sopInstanceUids);
    const present = new Set<string>();
    const instancesUrl = `${this.url}/studies/${encodeURIComponent(study.studyInstanceUid)}/instances`;
    const uids = [...wanted];
    for (let i = 0; i < uids.length; i += QIDO_UIDS_PER_QUERY) {
      // UID list matching (PS3.4 §C.2.2.2.2, PS3.18 §8.3.4.1): one query for many instances.
      const query = `SOPInstanceUID=${uids.slice(i, i + QIDO_UIDS_PER_QUERY).map(encodeURIComponent).join(',')}&includefield=00080018`;
      const found = await this.qido(`${instancesUrl}?${query}`);
      if (found === 'bad-request') return this.confirmByListing(instancesUrl, wanted);
      for (const uid of found) if (wanted.has(uid)) present.add(uid);
    }
    return present;
  }

  /** For servers that refuse UID list matching: page through every instance of the study. */
  private async confirmByListing(instancesUrl: string, wanted: ReadonlySet<string>): Promise<Set<string>> {
    const present = new Set<string>();
    const seen = new Set<string>();
    for (let offset = 0; ; offset += QIDO_PAGE) {
      const found = await this.qido(`${instancesUrl}?includefield=00080018&limit=${QIDO_PAGE}&offset=${offset}`);
      if (found === 'bad-request') throw new Error('the destination refused a QIDO-RS instance query (HTTP 400)');
      const fresh = found.filter((uid) => !seen.has(uid));
      for (const uid of fresh) {
        seen.add(uid);
        if (wanted.has(uid)) present.add(uid);
      }
      // A server that ignores limit/offset answers everything at once, or the same page again.
      if (found.length < QIDO_PAGE || fresh.length === 0) return present;
    }
  }

  private async qido(url: string): Promise<string[] | 'bad-request'> {
    const answer = await this.http.exchange(url, { method: 'GET', headers: { accept: 'application/dicom+json' } });
    throwIfTransientStatus(answer);
    // 204: no match (PS3.18 §8.3.3.1); some servers answer 404 for a study they do not hold.
    if (answer.status === 204 || answer.status === 404) return [];
    if (answer.status === 400) return 'bad-request';
    if (answer.status !== 200) throw new Error(permanentStatusReason(answer.status) ?? `the destination answered a QIDO-RS query with HTTP ${answer.status}`);
    if (answer.body === undefined) throw new Error('the QIDO-RS answer is too large to read');
    return parseQidoSopInstanceUids(answer.body);
  }
}

/**
 * The multipart/related body (RFC 2387, PS3.18 §8.6.1.2) and its exact length, so it can go with a
 * Content-Length. Each instance is opened only when its turn comes, streamed, and closed.
 */
export function multipartRelatedBody(instances: readonly InstanceToSend[], boundary: string): { length: number; parts: AsyncIterable<Uint8Array> } {
  const head = Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`);
  // The CRLF before each delimiter belongs to the delimiter (RFC 2046 §5.1.1).
  const partEnd = Buffer.from('\r\n');
  const close = Buffer.from(`--${boundary}--\r\n`);
  const length = instances.reduce((total, instance) => total + head.length + instance.size + partEnd.length, close.length);
  async function* parts(): AsyncGenerator<Uint8Array> {
    for (const [index, instance] of instances.entries()) {
      yield head;
      yield* sizedInstanceBytes(instance, `instance ${index + 1} of ${instances.length}`);
      yield partEnd;
    }
    yield close;
  }
  return { length, parts: parts() };
}

/**
 * One outcome per instance from a STOW-RS answer (PS3.18 §10.5.3). An instance is stored only
 * when the Referenced SOP Sequence names it and the Failed SOP Sequence does not.
 *
 *   HTTP      body                      instance in Referenced  in Failed               in neither
 *   200, 202  Store Instances Response  stored (+ warning)      per Failure Reason      transient "not acknowledged"
 *   400, 409  Store Instances Response  stored (+ warning)      permanent               permanent
 *   200       none or unreadable        stored, with a warning that nothing was itemised
 *   202       none or unreadable        transient "not acknowledged"
 *   4xx       none or unreadable        permanent
 *   401, 403, 404, 413, 415, 3xx        permanent, whatever the body says
 *
 * 408, 429 and 5xx never get here: throwIfTransientStatus throws first.
 */
export function stowOutcomes(answer: Pick<HttpAnswer, 'status' | 'headers' | 'body'>, sopInstanceUids: readonly string[]): Map<string, InstanceOutcome> {
  const { status } = answer;
  const all = (outcome: InstanceOutcome) => new Map(sopInstanceUids.map((uid) => [uid, outcome] as const));
  const refused = permanentStatusReason(status);
  if (refused) return all({ status: 'failed', permanent: true, reason: refused, code: httpStatusCode(status) });
  const clientError = status >= 400;
  let response: StoreInstancesResponse | undefined;
  let unreadable = answer.body === undefined ? 'the response was too large to read' : undefined;
  try {
    if (answer.body !== undefined) response = parseStoreInstancesResponse(answer.body, answer.headers.get('content-type'));
  } catch (error) {
    unreadable = error instanceof Error ? error.message : String(error);
  }
  if (!response) {
    const detail = unreadable ?? 'no Store Instances Response';
    if (clientError) return all({ status: 'failed', permanent: true, reason: `the destination refused the request (HTTP ${status}; ${detail})`, code: httpStatusCode(status) });
    if (status === 202) return all({ status: 'failed', permanent: false, reason: `not acknowledged: HTTP 202 with ${detail}` });
    return all({ status: 'stored', warning: `the destination answered HTTP ${status} with ${detail}; stored as a whole, not itemised` });
  }
  const otherFailures = response.otherFailures.length > 0 ? `; other failures: ${response.otherFailures.map(statusCodeHex).join(', ')}` : '';
  const outcomes = new Map<string, InstanceOutcome>();
  for (const uid of sopInstanceUids) {
    const failed = response.failed.get(uid);
    const referenced = response.referenced.get(uid);
    if (failed) {
      const meaning = failureReasonMeaning(failed.failureReason);
      const hex = failed.failureReason === undefined ? undefined : statusCodeHex(failed.failureReason);
      const context = clientError ? `HTTP ${status}, ` : '';
      outcomes.set(uid, {
        status: 'failed',
        // A 4xx says the request itself is wrong: the same bytes would fail again (PS3.18 §10.5.3).
        permanent: clientError || meaning.permanent,
        reason: `refused by the destination: ${meaning.meaning} (${context}Failure Reason ${hex ?? 'absent'})`,
        ...(failed.failureReason === undefined ? {} : { code: dicomStatusCode(failed.failureReason) }),
      });
    } else if (referenced) {
      const warning = referenced.warningReason ?? response.warningReason;
      outcomes.set(uid, warning === undefined
        ? { status: 'stored' }
        : { status: 'stored', warning: `${warningReasonMeaning(warning)} (Warning Reason ${statusCodeHex(warning)})` });
    } else if (clientError) {
      outcomes.set(uid, { status: 'failed', permanent: true, reason: `not acknowledged: the destination refused the request (HTTP ${status}) without naming this instance${otherFailures}`, code: httpStatusCode(status) });
    } else {
      outcomes.set(uid, { status: 'failed', permanent: false, reason: `not acknowledged: the response names this instance neither as stored nor as failed${otherFailures}` });
    }
  }
  return outcomes;
}
