import type { AttachPhotosRequest, NewPhotoStudy, ReviewPhoto } from '../common/ipc-contract.js';
import type { CatalogReader } from '../core/catalog/catalog-reader.js';
import type { ImportRunResult, ImportService } from '../core/import/import-service.js';
import type { CandidateFile, ImportSource, SourceItem } from '../core/import/import-source.js';
import { attributesForCatalogStudy } from '../core/import/photo/attach-to-study.js';
import { newUid } from '../core/import/photo/dicom-uid.js';
import type { AttachedPhotoFiles } from '../core/import/photo/photo-files.js';
import { probePhoto } from '../core/import/photo/photo-probe.js';
import { PhotoConversionError, wrapPhotoAsSecondaryCapture } from '../core/import/photo/photo-to-secondary-capture.js';
import { checkSecondaryCaptureAttributes, type SecondaryCaptureAttributes } from '../core/import/photo/secondary-capture-attributes.js';
import { CodedFailure, sentence } from '../core/coded-error.js';
import { personNameFromDisplay } from '../common/dicom-display.js';

export interface PhotoAttachmentsOptions {
  catalog: CatalogReader;
  imports: ImportService;
  files: AttachedPhotoFiles;
  now?: () => Date;
  /** Photos remembered for attaching; past this the longest-waiting are forgotten. Default 10,000. */
  maxWaiting?: number;
}

/** What an import makes of a photo it found. */
export type PhotoFound =
  | { kind: 'waiting'; photo: ReviewPhoto }
  /** Nothing to wait for: why it cannot be used, or the Secondary Capture file it was already made into. */
  | { kind: 'import'; item: SourceItem };

/**
 * Photos between the import that finds them and the attachment that makes them part of a study.
 * An import hands every JPEG and PNG to `found`; `attach` then wraps the chosen ones into
 * Secondary Capture images of a study in the catalog, or of a new study with the patient details
 * the user entered, writes them into the app's data folder (they must outlive the temp area until
 * sent) and imports them, so sending the study sends them too.
 *
 * Only photos an import listed can be attached: the renderer names them by path, and a path it
 * makes up is refused rather than read.
 */
export class PhotoAttachments {
  private readonly waiting = new Map<string, ReviewPhoto>();
  /** One attachment at a time: two clicks on "Attach photos" must not make each photo twice. */
  private attaching: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: PhotoAttachmentsOptions) {}

  /**
   * A photo an import found: it waits to be attached when it can be converted; it is a problem
   * when it cannot; and a photo attached before (the same bytes, whatever its name) is its
   * Secondary Capture file again, which the import counts as already imported.
   */
  async found(file: CandidateFile): Promise<PhotoFound> {
    let probe;
    try {
      probe = await probePhoto(file.path);
    } catch (error) {
      if (!(error instanceof PhotoConversionError)) throw error;
      return { kind: 'import', item: { kind: 'skipped', skipped: { displayName: file.displayName, code: error.code, reason: error.reason } } };
    }
    const copy = this.options.files.attachedCopy(probe.sha256);
    if (copy) return { kind: 'import', item: { kind: 'file', file: { path: copy, displayName: file.displayName } } };
    const photo: ReviewPhoto = { path: file.path, displayName: file.displayName, width: probe.width, height: probe.height };
    this.waiting.delete(file.path);
    this.waiting.set(file.path, photo);
    const max = this.options.maxWaiting ?? 10_000;
    for (const path of this.waiting.keys()) {
      if (this.waiting.size <= max) break;
      this.waiting.delete(path);
    }
    return { kind: 'waiting', photo };
  }

  /** Attaches photos found by an import; resolves with the import run that catalogued them. */
  attach(request: AttachPhotosRequest): Promise<ImportRunResult> {
    const next = this.attaching.catch(() => undefined).then(() => this.attachNow(request));
    this.attaching = next;
    return next;
  }

  private async attachNow(request: AttachPhotosRequest): Promise<ImportRunResult> {
    const photos = request.photos.map((path) => this.waiting.get(path));
    if (photos.some((photo) => photo === undefined)) {
      throw new CodedFailure('INVALID_REQUEST', 'A photo to attach is not waiting to be attached any more: it was attached already, or RelayPACS was restarted since it was found. Import it again.');
    }
    const attributes = this.attributesFor(request.target);
    const chosen = photos as ReviewPhoto[];
    // Taken out before converting: a second request for the same photos is refused, not doubled.
    for (const photo of chosen) this.waiting.delete(photo.path);
    const done = new Set<string>();
    try {
      const label = chosen.length === 1 ? chosen[0]!.path : `${chosen[0]!.path} and ${chosen.length - 1} more`;
      return await this.options.imports.run(label, this.converted(chosen, attributes, done));
    } catch (error) {
      // Stopped by something else than a photo (the disk is full): the rest can be attached later.
      for (const photo of chosen) if (!done.has(photo.path)) this.waiting.set(photo.path, photo);
      throw error;
    }
  }

  /**
   * photoSource's work, with each file named by its photo's hash (AttachedPhotoFiles): one new
   * series for the batch, instances numbered over the photos converted, a photo that cannot be
   * converted a skipped item with its reason.
   */
  private async *converted(photos: readonly ReviewPhoto[], attributes: SecondaryCaptureAttributes, done: Set<string>): ImportSource {
    const seriesInstanceUid = newUid();
    let instanceNumber = 1;
    for (const photo of photos) {
      let item: SourceItem;
      try {
        // Hashed again as it is now: the file may have changed since the import listed it.
        const { sha256 } = await probePhoto(photo.path);
        const outPath = await this.options.files.newPath(sha256);
        await wrapPhotoAsSecondaryCapture(photo.path, { ...attributes, seriesInstanceUid, instanceNumber }, outPath);
        instanceNumber++;
        item = { kind: 'file', file: { path: outPath, displayName: photo.displayName } };
      } catch (error) {
        if (!(error instanceof PhotoConversionError)) throw error;
        item = { kind: 'skipped', skipped: { displayName: photo.displayName, code: error.code, reason: error.reason } };
      }
      done.add(photo.path);
      yield item;
    }
  }

  private attributesFor(target: AttachPhotosRequest['target']): SecondaryCaptureAttributes {
    if ('studyInstanceUid' in target) {
      const attributes = attributesForCatalogStudy(this.options.catalog, target.studyInstanceUid);
      if (!attributes) throw new CodedFailure('INVALID_REQUEST', 'The study to attach the photos to is no longer in the catalog. Import it again, then attach the photos.');
      try {
        checkSecondaryCaptureAttributes(attributes);
      } catch (error) {
        if (!(error instanceof PhotoConversionError)) throw error;
        // The study's own values (from its DICOM files) would make invalid photo images.
        throw new CodedFailure('INVALID_REQUEST', `Photos cannot join this study: its ${error.reason}. Attach them to a new study instead.`, 'study attributes');
      }
      return attributes;
    }
    const attributes = newStudyAttributes(target.newStudy, (this.options.now ?? (() => new Date()))());
    try {
      checkSecondaryCaptureAttributes(attributes);
    } catch (error) {
      if (!(error instanceof PhotoConversionError)) throw error;
      throw new CodedFailure('INVALID_REQUEST', sentence(`${error.reason}; correct it and attach the photos again`));
    }
    return attributes;
  }
}

/** A new study for photos that belong to no study yet, dated now (local time, as modalities date theirs). */
function newStudyAttributes(study: NewPhotoStudy, now: Date): SecondaryCaptureAttributes {
  const two = (n: number) => String(n).padStart(2, '0');
  return {
    patientName: personNameFromDisplay(study.patientName),
    patientId: study.patientId,
    ...(study.birthDate ? { patientBirthDate: study.birthDate.replaceAll('-', '') } : {}),
    ...(study.sex ? { patientSex: study.sex } : {}),
    studyInstanceUid: newUid(),
    studyDate: `${now.getFullYear()}${two(now.getMonth() + 1)}${two(now.getDate())}`,
    studyTime: `${two(now.getHours())}${two(now.getMinutes())}${two(now.getSeconds())}`,
    ...(study.studyDescription ? { studyDescription: study.studyDescription } : {}),
    seriesNumber: 1,
    seriesDescription: 'Photos',
  };
}
