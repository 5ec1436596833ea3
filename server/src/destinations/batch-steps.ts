import { TransientDestinationError, type InstanceOutcome, type InstanceToSend } from '../forward/destination.js';

/**
 * Splits a batch into requests of at most `maxInstances` instances and `maxBytes` bytes, in
 * order. An instance larger than `maxBytes` travels alone rather than not at all.
 */
export function splitBatch<T extends Pick<InstanceToSend, 'size'>>(instances: readonly T[], maxInstances: number, maxBytes: number): T[][] {
  const steps: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const instance of instances) {
    if (current.length > 0 && (current.length >= maxInstances || bytes + instance.size > maxBytes)) {
      steps.push(current);
      current = [];
      bytes = 0;
    }
    current.push(instance);
    bytes += instance.size;
  }
  if (current.length > 0) steps.push(current);
  return steps;
}

/**
 * Sends the steps of one store() in order. A transient failure before anything was answered
 * throws, so the queue retries the whole batch; after that, the answers already received are kept
 * and every instance not yet answered is a transient failure, so only those are retried.
 */
export async function sendInSteps<T extends Pick<InstanceToSend, 'sopInstanceUid'>>(
  steps: readonly (readonly T[])[],
  send: (step: readonly T[]) => Promise<Map<string, InstanceOutcome>>,
): Promise<Map<string, InstanceOutcome>> {
  const outcomes = new Map<string, InstanceOutcome>();
  for (const [index, step] of steps.entries()) {
    let answered: Map<string, InstanceOutcome>;
    try {
      answered = await send(step);
    } catch (error) {
      if (outcomes.size === 0 || !(error instanceof TransientDestinationError)) throw error;
      for (const instance of steps.slice(index).flat()) {
        outcomes.set(instance.sopInstanceUid, { status: 'failed', permanent: false, reason: `not sent: ${error.message}` });
      }
      return outcomes;
    }
    for (const [uid, outcome] of answered) outcomes.set(uid, outcome);
  }
  return outcomes;
}
