import type { InstanceStatus, UploadStatus } from '../protocol/upload-protocol.js';
import type { DeliveryItemStatus } from '../store/deliveries-store.js';
import type { InstanceRecord, UploadRecord, UploadsStore } from '../store/uploads-store.js';
import { ByteRangeSet, type ByteRange } from './byte-ranges.js';

/**
 * The status of an upload as GET /upload/:id/status answers it (docs/protocol/upload.md): per
 * instance the bytes held, the ranges missing, its state and its delivery to each destination.
 * Reads only; the upload service and the HEAD route use it.
 */
export class UploadStatusView {
  constructor(
    private readonly uploads: UploadsStore,
    /** Delivery state per destination and instance (the delivery queue's), when there is one. */
    private readonly deliveryItems?: (uploadId: string) => Promise<readonly DeliveryItemStatus[]>,
  ) {}

  /** An upload's status as the protocol answers it: every instance's bytes, state and deliveries. */
  async of(upload: UploadRecord): Promise<UploadStatus> {
    const [ranges, items, records] = await Promise.all([
      this.uploads.chunkRangesByInstance(upload.id),
      this.deliveryItems?.(upload.id) ?? [],
      this.uploads.instances(upload.id),
    ]);
    const byInstance = new Map<number, DeliveryItemStatus[]>();
    for (const item of items) byInstance.set(item.index, [...(byInstance.get(item.index) ?? []), item]);
    const instances = records.map((instance) => this.instanceStatus(instance, ranges.get(instance.index) ?? [], byInstance.get(instance.index) ?? []));
    return {
      uploadId: upload.id,
      state: upload.state,
      serviceLevel: upload.serviceLevel,
      expiresAt: upload.expiresAt,
      totalBytes: upload.totalBytes,
      receivedBytes: instances.reduce((sum, i) => sum + i.receivedBytes, 0),
      deliveries: summarizeDeliveries(items),
      instances,
    };
  }

  /** One instance's offsets, for HEAD requests (tus style); undefined when the manifest has no such instance. */
  async instanceOffsets(uploadId: string, index: number): Promise<{ size: number; receivedBytes: number; contiguousBytes: number } | undefined> {
    const instance = await this.uploads.instance(uploadId, index);
    if (!instance) return undefined;
    const held = new ByteRangeSet((await this.uploads.chunks(uploadId, index)).map((c) => [c.offset, c.offset + c.length] as const));
    return { size: instance.size, receivedBytes: instance.receivedBytes, contiguousBytes: instance.state === 'already-delivered' ? instance.size : held.contiguousEnd };
  }

  private instanceStatus(instance: InstanceRecord, ranges: ByteRange[], items: readonly DeliveryItemStatus[]): InstanceStatus {
    const delivered = instance.state === 'already-delivered';
    const held = new ByteRangeSet(delivered ? [[0, instance.size]] : ranges);
    return {
      index: instance.index,
      sopInstanceUid: instance.sopInstanceUid,
      size: instance.size,
      receivedBytes: delivered ? instance.size : instance.receivedBytes,
      contiguousBytes: held.contiguousEnd,
      missing: held.missing(instance.size).map(([s, e]) => [s, e] as [number, number]),
      state: instance.state,
      ...(instance.transferSyntaxUid ? { transferSyntaxUid: instance.transferSyntaxUid } : {}),
      ...(instance.rejectionCode ? { rejection: { code: instance.rejectionCode, reason: instance.rejectionReason ?? '' } } : {}),
      deliveryState: deliveryStateOf(instance, items),
      destinations: items.map((item) => ({
        name: item.destination, state: item.state, attempts: item.attempts,
        ...(item.state !== 'delivered' && item.state !== 'confirmed' && item.lastError ? { reason: item.lastError } : {}),
        ...(item.state === 'failed' && item.failureCode ? { code: item.failureCode } : {}),
        ...(item.warning ? { warning: item.warning } : {}),
      })),
    };
  }
}

/** One word for an instance's delivery across its destinations, for lists and badges. */
function deliveryStateOf(instance: InstanceRecord, items: readonly DeliveryItemStatus[]): string {
  if (instance.state === 'already-delivered') return 'delivered';
  if (instance.state === 'rejected') return 'not-sent';
  if (items.length === 0) return instance.state === 'verified' ? 'unrouted' : 'pending';
  if (items.some((i) => i.state === 'failed')) return 'failed';
  if (items.every((i) => i.state === 'confirmed')) return 'confirmed';
  if (items.every((i) => i.state === 'delivered' || i.state === 'confirmed')) return 'delivered';
  return items.some((i) => i.state === 'sending') ? 'sending' : 'queued';
}

function summarizeDeliveries(items: readonly DeliveryItemStatus[]): UploadStatus['deliveries'] {
  const byDestination = new Map<string, DeliveryItemStatus[]>();
  for (const item of items) byDestination.set(item.destination, [...(byDestination.get(item.destination) ?? []), item]);
  return [...byDestination.entries()].map(([destination, list]) => {
    const count = (state: string) => list.filter((i) => i.state === state).length;
    const delivered = count('delivered');
    const confirmed = count('confirmed');
    const failed = count('failed');
    const state = failed > 0 && delivered + confirmed + failed === list.length ? 'failed'
      : confirmed === list.length ? 'confirmed'
        : delivered + confirmed === list.length ? 'delivered'
          : 'forwarding';
    return { destination, state, total: list.length, delivered, confirmed, failed };
  });
}
