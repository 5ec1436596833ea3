import type { InstanceState, ManifestInstance, ServiceLevel, UploadState } from '../protocol/upload-protocol.js';

/**
 * Uploads, the instances of their manifests and the chunks received (docs/protocol/upload.md). A
 * chunk's row is what makes its bytes count: temporary storage may hold pieces no row names (a crash
 * between the two), and readers only ever read the pieces recorded here (storage/storage.ts).
 */

export interface UploadRecord {
  id: string;
  userId: number;
  studyInstanceUid: string;
  modality: string | null;
  serviceLevel: ServiceLevel;
  clinicalHistory: string | null;
  sourceWorkstation: string | null;
  manifestHash: string;
  state: UploadState;
  chunkBytes: number;
  totalBytes: number;
  createdAt: string;
  updatedAt: string;
  expiresAt: string;
  completedAt: string | null;
  /** Accession Number (0008,0050) of the study, from its first verified instance that has one. */
  accessionNumber: string | null;
}

export interface InstanceRecord {
  uploadId: string;
  index: number;
  sopInstanceUid: string;
  sopClassUid: string;
  size: number;
  sha256: string;
  receivedBytes: number;
  state: InstanceState;
  transferSyntaxUid: string | null;
  rejectionCode: string | null;
  rejectionReason: string | null;
}

/** A recorded chunk: bytes [offset, offset + length) of one instance, and their SHA-256. */
export interface ChunkRecord {
  offset: number;
  length: number;
  sha256: string;
}

export interface ChunkTarget {
  upload: UploadRecord;
  instance: InstanceRecord | undefined;
  chunks: ChunkRecord[];
}

export interface NewUpload {
  id: string;
  userId: number;
  studyInstanceUid: string;
  modality?: string | undefined;
  serviceLevel: ServiceLevel;
  clinicalHistory?: string | undefined;
  sourceWorkstation?: string | undefined;
  facility?: string | undefined;
  manifestHash: string;
  chunkBytes: number;
  totalBytes: number;
  expiresAt: string;
  instances: (ManifestInstance & { state: InstanceState })[];
}

/** What the routing rules look at for one instance (forward/router.ts), and who owns its upload. */
export interface RoutingFacts {
  userId: number;
  username: string;
  modality: string | null;
  serviceLevel: ServiceLevel;
  sourceWorkstation: string | null;
  facility: string | null;
  sopClassUid: string;
}

export interface UploadsStore {
  /** The upload (state 'receiving') and every instance of its manifest, each in the state it is given, as one write. */
  insert(upload: NewUpload, now: string): Promise<void>;
  /** Makes an upload STAT and/or gives it the clinical history it lacked; never the other way. */
  upgrade(id: string, changes: { stat: boolean; clinicalHistory?: string | undefined }, now: string): Promise<void>;
  find(id: string): Promise<UploadRecord | undefined>;
  /**
   * The user's newest upload of this study with this manifest that is receiving or accepted: a
   * client that lost the answer to init or to complete finds its upload again.
   */
  findResumable(userId: number, studyInstanceUid: string, manifestHash: string): Promise<UploadRecord | undefined>;
  /** The user's uploads receiving data. */
  countActive(userId: number): Promise<number>;
  /** Uploads receiving data, across all users. */
  countAllActive(): Promise<number>;
  /**
   * Bytes the uploads receiving data have been promised and not sent yet: over their instances
   * still receiving, size less received, for uploads that received something (or began) at
   * `activeSince` or later.
   */
  bytesToReceive(activeSince: string): Promise<number>;
  /** In manifest order. */
  instances(uploadId: string): Promise<InstanceRecord[]>;
  instance(uploadId: string, index: number): Promise<InstanceRecord | undefined>;
  /** The instance's recorded chunks, by offset. */
  chunks(uploadId: string, index: number): Promise<ChunkRecord[]>;
  /** The recorded chunks of several instances in one read: for each key given, in that order, by offset. */
  chunksOf(instances: readonly { uploadId: string; index: number }[]): Promise<ChunkRecord[][]>;
  /**
   * What a chunk's request checks, in one read: the upload, the instance (undefined when its
   * manifest has no such index) and the instance's recorded chunks by offset. Undefined for an
   * unknown upload.
   */
  chunkTarget(uploadId: string, index: number): Promise<ChunkTarget | undefined>;
  /** Every instance's recorded ranges [start, end) for a whole upload, by instance index, in one read. */
  chunkRangesByInstance(uploadId: string): Promise<Map<number, [number, number][]>>;
  /**
   * The instance's SHA-256 state after the recorded chunk that ends at `end` (bytes [0, end)), when
   * that chunk carried one: a chunk starting there goes on from it.
   */
  hashStateEndingAt(uploadId: string, index: number, end: number): Promise<Uint8Array | undefined>;
  /** The furthest SHA-256 state carried by the instance's chunks, with the end of the bytes it covers. */
  furthestHashState(uploadId: string, index: number): Promise<{ end: number; state: Uint8Array } | undefined>;
  /**
   * Forgets carried SHA-256 states: the instance's once it is verified or rejected, every instance's
   * (no index) once the upload is cancelled or expired. A state holds up to 63 bytes of the instance.
   */
  forgetHashStates(uploadId: string, index?: number): Promise<void>;
  /**
   * Records an acknowledged chunk, with the instance's SHA-256 state after it when it carried one
   * (`sha256State`: bytes [0, offset + length)), adds its length to the instance, renews the
   * upload's expiry, and moves the instance to 'received' with its last byte, all as one write.
   * Not recorded (false) when the upload stopped receiving meanwhile (cancelled, expired) or the
   * range overlaps one recorded by a concurrent request.
   */
  recordChunk(uploadId: string, index: number, chunk: ChunkRecord & { sha256State?: Uint8Array | undefined }, now: string, expiresAt: string):
    Promise<{ recorded: boolean; receivedBytes: number }>;
  /**
   * Sets an instance's state. A transfer syntax once recorded is kept when none is given; the
   * rejection code and reason are set as given (cleared when absent), so they describe this state.
   */
  setInstanceState(uploadId: string, index: number, state: InstanceState, extra?: { transferSyntaxUid?: string; rejectionCode?: string; rejectionReason?: string }): Promise<void>;
  /** Keeps the study's accession number, unless one is kept already. */
  setAccessionNumber(uploadId: string, accessionNumber: string): Promise<void>;
  /** Moves the upload to `state` if it is in one of `fromStates` (answers whether it did; never with none given); 'accepted' stamps completedAt. */
  setUploadState(uploadId: string, state: UploadState, now: string, fromStates: UploadState[]): Promise<boolean>;
  /** Instances whose bytes are all held but whose verification did not finish (e.g. a crash), of uploads receiving or accepted. */
  unverifiedInstances(): Promise<{ uploadId: string; index: number }[]>;
  /**
   * Verified instances of uploads receiving or accepted that have no delivery item: routed to no
   * destination, or (before verification and queueing were one commit) a crash between the two.
   */
  verifiedWithoutDelivery(): Promise<{ uploadId: string; index: number }[]>;
  /** Uploads receiving data whose expiry is before `now`. */
  expiredUploadIds(now: string): Promise<string[]>;
  /**
   * Expires the upload if it is still receiving and its expiry (renewed by every chunk recorded) is
   * still before `now`: a chunk or a completion that came after the listing keeps it alive.
   */
  expire(uploadId: string, now: string): Promise<boolean>;
  /** Whether an upload's temporary data may go: it is cancelled, expired, or unknown. */
  isDisposable(uploadId: string): Promise<boolean>;
  /** The SOP Instance UIDs of these instances that a PACS already holds with these very bytes (DeliveriesStore.markDelivered). */
  alreadyDelivered(instances: readonly Pick<ManifestInstance, 'sopInstanceUid' | 'sha256'>[]): Promise<Set<string>>;
  /** What routing needs to know of one instance; undefined when there is no such instance. */
  routingFacts(uploadId: string, index: number): Promise<RoutingFacts | undefined>;
}
