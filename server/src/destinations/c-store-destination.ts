import { EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN, sopClassName } from '@relaypacs/dicom';
import {
  AssociationLostError,
  MAX_PRESENTATION_CONTEXTS,
  StoreAssociation,
  type AssociationTarget,
  type ProposedContext,
} from './c-store-association.js';
import { CONVERTIBLE_TRANSFER_SYNTAXES, InstanceNotSendable, LoadedInstance } from './c-store-instance.js';
import { cStoreOutcome } from './c-store-status.js';
import { TransientDestinationError, type Destination, type InstanceOutcome, type InstanceToSend, type StudyContext } from '../forward/destination.js';

export { AssociationLostError, AssociationRejectedError } from './c-store-association.js';

export interface CStoreDestinationOptions {
  name: string;
  host: string;
  port: number;
  /** The PACS's AE title. */
  calledAet: string;
  /** The relay's AE title, as registered on the PACS. Default 'RELAYPACS'. */
  callingAet?: string;
  /** Instances sent over one association before it is released and a new one opened. Default 100. */
  maxInstancesPerAssociation?: number;
  /** TCP connect. Default 10 s. */
  connectTimeoutMs?: number;
  /** From connected to the PACS's A-ASSOCIATE answer. Default 30 s. */
  associationTimeoutMs?: number;
  /** Longest wait for a C-STORE response (large instances take a while to store). Default 5 min. */
  responseTimeoutMs?: number;
}

/** Fallback syntaxes every Storage SCP supports, explicit first: it keeps VRs (PS3.5 §10.1, Annex A.1, A.2). */
const FALLBACK_SYNTAXES = [EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN] as const;

/**
 * A store() call sends its instances one after the other, each held in memory only while it is
 * sent, so this bounds how long one call keeps an association busy, not memory.
 */
const MAX_BATCH_BYTES = 512 * 1024 * 1024;

/**
 * Delivers instances to a PACS by DICOM C-STORE (PS3.4 Annex B, PS3.7 §9.1.1) over associations
 * of up to `maxInstancesPerAssociation` instances. Each instance travels in its own transfer
 * syntax when the PACS accepts it, byte for byte as stored; otherwise it is converted between the
 * uncompressed syntaxes, and a compressed instance the PACS refuses fails permanently. There is no
 * confirm(): a C-FIND at IMAGE level needs the Series Instance UID of every instance (PS3.4
 * C.4.1.2.2, hierarchical query) and many Storage SCPs offer no query service at all.
 */
export class CStoreDestination implements Destination {
  readonly kind = 'c-store' as const;
  readonly name: string;
  readonly batchLimits: { maxInstances: number; maxBytes: number };
  private readonly target: AssociationTarget;
  private readonly maxInstancesPerAssociation: number;
  /** Associations in use, aborted by close(). */
  private readonly associations = new Set<StoreAssociation>();
  private closed = false;

  constructor(options: CStoreDestinationOptions) {
    this.name = options.name;
    const callingAet = options.callingAet ?? 'RELAYPACS';
    checkAeTitle('calledAet', options.calledAet);
    checkAeTitle('callingAet', callingAet);
    if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) {
      throw new RangeError(`port must be between 1 and 65535, got ${options.port}`);
    }
    this.maxInstancesPerAssociation = options.maxInstancesPerAssociation ?? 100;
    if (!Number.isInteger(this.maxInstancesPerAssociation) || this.maxInstancesPerAssociation < 1) {
      throw new RangeError(`maxInstancesPerAssociation must be a whole number of at least 1, got ${this.maxInstancesPerAssociation}`);
    }
    this.target = {
      host: options.host,
      port: options.port,
      callingAet,
      calledAet: options.calledAet,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      associationTimeoutMs: options.associationTimeoutMs ?? 30_000,
      responseTimeoutMs: options.responseTimeoutMs ?? 300_000,
    };
    this.batchLimits = { maxInstances: this.maxInstancesPerAssociation, maxBytes: MAX_BATCH_BYTES };
  }

  async store(study: StudyContext, instances: readonly InstanceToSend[]): Promise<Map<string, InstanceOutcome>> {
    if (this.closed) throw new Error(`destination ${this.name} is closed`);
    const outcomes = new Map<string, InstanceOutcome>();
    for (const group of planAssociations(instances, this.maxInstancesPerAssociation)) {
      if (this.closed) {
        const closed = new TransientDestinationError(`destination ${this.name} was closed during delivery`);
        if (outcomes.size === 0) throw closed;
        markUnanswered(outcomes, instances, closed.message);
        return outcomes;
      }
      let association: StoreAssociation;
      try {
        association = await StoreAssociation.open(this.target, proposedContexts(group));
      } catch (error) {
        // Nothing decided yet: the whole batch failed and is retried as one. Otherwise keep what
        // the PACS already answered and let the rest be retried.
        if (outcomes.size === 0) throw error;
        markUnanswered(outcomes, instances, (error as Error).message);
        return outcomes;
      }
      this.associations.add(association);
      try {
        for (const instance of group) {
          if (association.lostError) break;
          const outcome = await this.storeOne(association, study, instance);
          if (outcome) outcomes.set(instance.sopInstanceUid, outcome);
        }
      } finally {
        this.associations.delete(association);
        await association.release();
      }
      const lost = association.lostError;
      if (lost) {
        if (outcomes.size === 0) throw lost;
        markUnanswered(outcomes, instances, lost.message);
        return outcomes;
      }
    }
    return outcomes;
  }

  /** The instance's outcome, or undefined when the association was lost before it had one. */
  private async storeOne(association: StoreAssociation, study: StudyContext, instance: InstanceToSend): Promise<InstanceOutcome | undefined> {
    const { sopClassUid } = instance;
    const accepted = association.acceptedTransferSyntaxes(sopClassUid);
    if (accepted.length === 0) {
      return permanent(`the PACS does not accept SOP class ${describeSopClass(sopClassUid)} (${association.rejectionFor(sopClassUid)})`);
    }
    let loaded: LoadedInstance;
    try {
      loaded = await LoadedInstance.load(instance, study.studyInstanceUid);
    } catch (error) {
      if (error instanceof InstanceNotSendable) return permanent(error.reason);
      // The relay's own storage failed: not the instance's fault, worth another try.
      return { status: 'failed', permanent: false, reason: `reading the stored instance failed: ${(error as Error).message}` };
    }
    const own = loaded.transferSyntaxUid;
    const syntax = accepted.includes(own)
      ? own
      : CONVERTIBLE_TRANSFER_SYNTAXES.has(own) ? FALLBACK_SYNTAXES.find((candidate) => accepted.includes(candidate)) : undefined;
    if (!syntax) {
      return permanent(`the PACS refused transfer syntax ${own} for SOP class ${describeSopClass(sopClassUid)}, and the relay does not decompress images`);
    }
    let dataset;
    try {
      dataset = loaded.encodeAs(syntax);
    } catch (error) {
      if (error instanceof InstanceNotSendable) return permanent(error.reason);
      throw error;
    }
    let answer: { status: number; errorComment?: string };
    try {
      answer = await association.store(dataset, sopClassUid, instance.sopInstanceUid, study.serviceLevel === 'STAT');
    } catch (error) {
      if (error instanceof AssociationLostError) return undefined;
      return { status: 'failed', permanent: false, reason: (error as Error).message };
    }
    const outcome = cStoreOutcome(answer.status, answer.errorComment);
    if (outcome.status === 'stored' && syntax !== own) {
      const converted = `sent as ${syntax} because the PACS refused transfer syntax ${own}`;
      return { status: 'stored', warning: outcome.warning ? `${outcome.warning}; ${converted}` : converted };
    }
    return outcome;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const association of this.associations) association.abort();
    this.associations.clear();
  }
}

function permanent(reason: string): InstanceOutcome {
  return { status: 'failed', permanent: true, reason };
}

function describeSopClass(uid: string): string {
  const name = sopClassName(uid);
  return name ? `${name} (${uid})` : uid;
}

/** Every instance without an outcome yet fails transiently: it may or may not have been stored, a retry settles it. */
function markUnanswered(outcomes: Map<string, InstanceOutcome>, instances: readonly InstanceToSend[], reason: string): void {
  for (const instance of instances) {
    if (!outcomes.has(instance.sopInstanceUid)) outcomes.set(instance.sopInstanceUid, { status: 'failed', permanent: false, reason });
  }
}

/**
 * Per SOP class: one presentation context per transfer syntax the instances are stored in, then
 * one with explicit and implicit VR little endian as the fallback (PS3.8 §9.3.2.2). Separate
 * contexts let the PACS accept the instance's own syntax and the fallback independently, since it
 * accepts only one transfer syntax per context.
 */
function proposedContexts(instances: readonly InstanceToSend[]): ProposedContext[] {
  const syntaxesByClass = new Map<string, Set<string>>();
  for (const instance of instances) {
    const syntaxes = syntaxesByClass.get(instance.sopClassUid) ?? new Set<string>();
    syntaxes.add(instance.transferSyntaxUid);
    syntaxesByClass.set(instance.sopClassUid, syntaxes);
  }
  const contexts: ProposedContext[] = [];
  for (const [sopClassUid, syntaxes] of syntaxesByClass) {
    for (const syntax of syntaxes) contexts.push({ sopClassUid, transferSyntaxUids: [syntax] });
    contexts.push({ sopClassUid, transferSyntaxUids: FALLBACK_SYNTAXES });
  }
  return contexts;
}

/** Splits the batch into associations of at most `maxInstances` instances and 128 presentation contexts. */
function planAssociations(instances: readonly InstanceToSend[], maxInstances: number): InstanceToSend[][] {
  const groups: InstanceToSend[][] = [];
  let current: InstanceToSend[] = [];
  for (const instance of instances) {
    const candidate = [...current, instance];
    if (current.length > 0 && (current.length >= maxInstances || proposedContexts(candidate).length > MAX_PRESENTATION_CONTEXTS)) {
      groups.push(current);
      current = [instance];
    } else {
      current = candidate;
    }
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** AE titles: 1 to 16 characters of the default repertoire, no backslash or control characters, not only spaces (PS3.5 §6.2, AE). */
function checkAeTitle(field: string, value: string): void {
  if (value.length < 1 || value.length > 16 || !/^[\x20-\x5b\x5d-\x7e]+$/.test(value) || value.trim() === '') {
    throw new RangeError(`${field} must be 1 to 16 printable characters without a backslash, got ${JSON.stringify(value)}`);
  }
}
