import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { NaturalDataset } from 'dcmjs';
import { randomUid } from './dicom-uid.js';
import { writePart10File } from './part10-file-writer.js';
import { PhantomPainter } from './pixel-pattern.js';
import { SeededRandom } from './seeded-random.js';
import { dicomAge, dicomDate, syntheticPatient, type SyntheticPatient } from './synthetic-patient.js';
import { TRANSFER_SYNTAX_UIDS, type TransferSyntaxName } from './transfer-syntax.js';

export type GeneratorModality = 'CT' | 'MR' | 'OT';

export interface StudySpec {
  /** Instances in the whole study, spread evenly over the series. */
  instances: number;
  series?: number;
  rows?: number;
  columns?: number;
  bitsAllocated?: 8 | 16;
  /** More than 1 makes every instance a multi-frame Secondary Capture object. */
  frames?: number;
  transferSyntax?: TransferSyntaxName;
  modality?: GeneratorModality;
  /** Same seed, same study (UIDs included). Unseeded studies are unique. */
  seed?: number;
  /** Override parts of the synthetic patient, e.g. a unique name for PHI-canary tests. */
  patient?: Partial<SyntheticPatient>;
  studyInstanceUid?: string;
  /** File name extension; '' writes files without one, as many modalities do. */
  extension?: string;
}

export interface GeneratedInstance {
  path: string;
  sopClassUid: string;
  sopInstanceUid: string;
  seriesInstanceUid: string;
  instanceNumber: number;
  transferSyntaxUid: string;
  size: number;
  sha256: string;
}

export interface GeneratedSeries {
  seriesInstanceUid: string;
  seriesNumber: number;
  description: string;
  instanceCount: number;
}

export interface GeneratedStudy {
  studyInstanceUid: string;
  accessionNumber: string;
  studyDate: string;
  modality: string;
  patient: SyntheticPatient;
  series: GeneratedSeries[];
  instances: GeneratedInstance[];
  totalBytes: number;
}

export type ProgressListener = (done: number, total: number) => void;

const SOP_CLASS = {
  CT: '1.2.840.10008.5.1.4.1.1.2',
  MR: '1.2.840.10008.5.1.4.1.1.4',
  SC: '1.2.840.10008.5.1.4.1.1.7',
  MULTIFRAME_BYTE_SC: '1.2.840.10008.5.1.4.1.1.7.2',
  MULTIFRAME_WORD_SC: '1.2.840.10008.5.1.4.1.1.7.3',
} as const;

const STUDY_DESCRIPTIONS: Record<GeneratorModality, readonly string[]> = {
  CT: ['CT HEAD WITHOUT CONTRAST', 'CT CHEST ABDOMEN PELVIS WITH CONTRAST', 'CT ANGIO PULMONARY'],
  MR: ['MR BRAIN WITH AND WITHOUT CONTRAST', 'MR LUMBAR SPINE', 'MR KNEE RIGHT'],
  OT: ['SECONDARY CAPTURE', 'OUTSIDE IMAGES'],
};
const SERIES_DESCRIPTIONS: Record<GeneratorModality, readonly string[]> = {
  CT: ['AXIAL 5MM', 'AXIAL 1MM BONE', 'CORONAL MPR', 'SAGITTAL MPR', 'SCOUT'],
  MR: ['T1 AX', 'T2 AX', 'FLAIR AX', 'DWI', 'T1 POST SAG'],
  OT: ['CAPTURE', 'SCANNED DOCUMENT'],
};

/**
 * Writes a synthetic but valid Part 10 study: patient → study → series → instances, with the
 * attributes a modality would send, realistic geometry, and phantom pixel data.
 */
export async function generateStudy(outDir: string, spec: StudySpec, onProgress?: ProgressListener): Promise<GeneratedStudy> {
  const settings = resolveSpec(spec);
  const random = new SeededRandom(spec.seed);
  const patient = { ...syntheticPatient(random), ...spec.patient };
  const studyDate = dicomDate(random.int(2024, 2026), random.int(1, 12), random.int(1, 28));
  const studyTime = `${String(random.int(7, 19)).padStart(2, '0')}${String(random.int(0, 59)).padStart(2, '0')}00`;
  const study = {
    studyInstanceUid: spec.studyInstanceUid ?? randomUid(random),
    accessionNumber: `ACC${random.int(10_000_000, 99_999_999)}`,
    studyId: String(random.int(1000, 9999)),
    description: random.pick(STUDY_DESCRIPTIONS[settings.modality]),
    frameOfReferenceUid: randomUid(random),
  };
  const painter = new PhantomPainter(settings.rows, settings.columns, settings.bitsStored, random);
  const bytesPerSample = settings.bitsAllocated / 8 as 1 | 2;
  const frameBytes = settings.rows * settings.columns * bytesPerSample;

  const series: GeneratedSeries[] = [];
  const instances: GeneratedInstance[] = [];
  let totalBytes = 0;
  for (let s = 0; s < settings.series; s++) {
    const count = Math.floor(settings.instances / settings.series) + (s < settings.instances % settings.series ? 1 : 0);
    const seriesInfo: GeneratedSeries = {
      seriesInstanceUid: randomUid(random),
      seriesNumber: s + 1,
      description: SERIES_DESCRIPTIONS[settings.modality][s % SERIES_DESCRIPTIONS[settings.modality].length] ?? 'SERIES',
      instanceCount: count,
    };
    series.push(seriesInfo);
    const seriesDir = join(outDir, `S${String(s + 1).padStart(3, '0')}`);
    await mkdir(seriesDir, { recursive: true });
    for (let i = 0; i < count; i++) {
      const instanceNumber = i + 1;
      const sopInstanceUid = randomUid(random);
      const dataset: NaturalDataset = {
        // dcmjs writes strings as UTF-8: say so when a name needs more than ASCII.
        SpecificCharacterSet: /^[\x20-\x7e]*$/.test(patient.name) ? 'ISO_IR 100' : 'ISO_IR 192',
        ImageType: ['ORIGINAL', 'PRIMARY', settings.modality === 'CT' ? 'AXIAL' : 'OTHER'],
        InstanceCreationDate: studyDate,
        StudyDate: studyDate,
        SeriesDate: studyDate,
        ContentDate: studyDate,
        StudyTime: studyTime,
        SeriesTime: studyTime,
        ContentTime: studyTime,
        AccessionNumber: study.accessionNumber,
        Modality: settings.modality,
        Manufacturer: 'RelayPACS',
        ManufacturerModelName: 'Synthetic Study Generator',
        SoftwareVersions: '1',
        InstitutionName: 'RelayPACS Synthetic Hospital',
        StationName: `SYN-${settings.modality}01`,
        ReferringPhysicianName: 'REFERRER^SYNTHETIC',
        StudyDescription: study.description,
        SeriesDescription: seriesInfo.description,
        PatientName: patient.name,
        PatientID: patient.id,
        PatientBirthDate: patient.birthDate,
        PatientSex: patient.sex,
        PatientAge: dicomAge(patient.birthDate, studyDate),
        BodyPartExamined: settings.modality === 'OT' ? '' : 'HEAD',
        StudyInstanceUID: study.studyInstanceUid,
        SeriesInstanceUID: seriesInfo.seriesInstanceUid,
        StudyID: study.studyId,
        SeriesNumber: seriesInfo.seriesNumber,
        InstanceNumber: instanceNumber,
        PatientOrientation: '',
        SamplesPerPixel: 1,
        PhotometricInterpretation: 'MONOCHROME2',
        Rows: settings.rows,
        Columns: settings.columns,
        BitsAllocated: settings.bitsAllocated,
        BitsStored: settings.bitsStored,
        HighBit: settings.bitsStored - 1,
        PixelRepresentation: 0,
        ...modalityAttributes(settings, i, study.frameOfReferenceUid),
      };
      const written = await writePart10File(join(seriesDir, `IM${String(instanceNumber).padStart(5, '0')}${settings.extension}`), {
        dataset,
        sopClassUid: settings.sopClassUid,
        sopInstanceUid,
        transferSyntax: settings.transferSyntax,
        pixelData: {
          vr: settings.bitsAllocated === 16 ? 'OW' : 'OB',
          byteLength: frameBytes * settings.frames,
          frames: function* () {
            for (let f = 0; f < settings.frames; f++) {
              // A stack of single frames varies along the series; a multi-frame varies along its frames.
              yield settings.frames > 1 ? painter.frame(f, settings.frames, bytesPerSample) : painter.frame(i, count, bytesPerSample);
            }
          },
        },
      });
      totalBytes += written.size;
      instances.push({
        path: written.path,
        sopClassUid: settings.sopClassUid,
        sopInstanceUid,
        seriesInstanceUid: seriesInfo.seriesInstanceUid,
        instanceNumber,
        transferSyntaxUid: TRANSFER_SYNTAX_UIDS[settings.transferSyntax],
        size: written.size,
        sha256: written.sha256,
      });
      onProgress?.(instances.length, settings.instances);
    }
  }
  return {
    studyInstanceUid: study.studyInstanceUid,
    accessionNumber: study.accessionNumber,
    studyDate,
    modality: settings.modality,
    patient,
    series,
    instances,
    totalBytes,
  };
}

type ResolvedSpec = ReturnType<typeof resolveSpec>;

function resolveSpec(spec: StudySpec) {
  const instances = spec.instances;
  const series = spec.series ?? 1;
  const rows = spec.rows ?? 512;
  const columns = spec.columns ?? 512;
  const bitsAllocated = spec.bitsAllocated ?? 16;
  const frames = spec.frames ?? 1;
  const modality = spec.modality ?? 'CT';
  if (!Number.isInteger(instances) || instances < 1) throw new RangeError(`instances must be a whole number of at least 1, got ${instances}`);
  if (!Number.isInteger(series) || series < 1 || series > instances) throw new RangeError(`series must be between 1 and the instance count (${instances}), got ${series}`);
  for (const [name, value] of [['rows', rows], ['columns', columns]] as const) {
    if (!Number.isInteger(value) || value < 1 || value > 65535) throw new RangeError(`${name} must be between 1 and 65535, got ${value}`);
  }
  if (bitsAllocated !== 8 && bitsAllocated !== 16) throw new RangeError(`bitsAllocated must be 8 or 16, got ${String(bitsAllocated)}`);
  if (!Number.isInteger(frames) || frames < 1) throw new RangeError(`frames must be a whole number of at least 1, got ${frames}`);
  const pixelBytes = rows * columns * (bitsAllocated / 8) * frames;
  // Pixel Data has a 32-bit length; 0xFFFFFFFF means "undefined" and the value must be even.
  if (pixelBytes > 0xfffffffe) throw new RangeError(`pixel data of ${pixelBytes} bytes does not fit one DICOM element (max 4 GiB - 2)`);
  // CT and MR image storage need 16-bit single frames; everything else becomes Secondary Capture.
  const singleFrameModalityImage = frames === 1 && bitsAllocated === 16 && modality !== 'OT';
  const sopClassUid = frames > 1
    ? (bitsAllocated === 16 ? SOP_CLASS.MULTIFRAME_WORD_SC : SOP_CLASS.MULTIFRAME_BYTE_SC)
    : singleFrameModalityImage ? SOP_CLASS[modality as 'CT' | 'MR'] : SOP_CLASS.SC;
  return {
    instances, series, rows, columns, bitsAllocated, frames, modality, sopClassUid,
    bitsStored: bitsAllocated === 16 ? 12 : 8,
    transferSyntax: spec.transferSyntax ?? 'explicit-le',
    extension: spec.extension ?? '.dcm',
  };
}

/**
 * Module attributes that depend on the SOP class (PS3.3 CT Image, MR Image, SC Equipment, Multi-frame).
 * Checked with dicom3tools dciodvfy (test/study-generator-dciodvfy.test.ts): no errors for any
 * modality, frame count, bit depth or transfer syntax the generator writes.
 */
function modalityAttributes(settings: ResolvedSpec, index: number, frameOfReferenceUid: string): NaturalDataset {
  // DS values hold at most 16 characters (PS3.5 §6.2): keep six decimals.
  const spacing = Number((250 / Math.max(settings.rows, settings.columns)).toFixed(6));
  const sliceThickness = 5;
  const geometry = {
    // Frame of Reference module (PS3.3 C.7.4.1): part of the CT and MR IODs (A.3, A.4), not of SC.
    FrameOfReferenceUID: frameOfReferenceUid,
    PositionReferenceIndicator: '',
    // General Series (PS3.3 C.7.3.1): Patient Position is Type 2C, required for CT and MR Image Storage.
    PatientPosition: 'HFS',
    ImagePositionPatient: [-125, -125, -index * sliceThickness],
    ImageOrientationPatient: [1, 0, 0, 0, 1, 0],
    PixelSpacing: [spacing, spacing],
    SliceThickness: sliceThickness,
    SliceLocation: -index * sliceThickness,
  };
  // General Series (PS3.3 C.7.3.1): Laterality is Type 2C, required when the body part may be a paired
  // structure. The OT objects name no body part, so their laterality is unknown: present, empty.
  const laterality = settings.modality === 'OT' ? { Laterality: '' } : {};
  if (settings.frames > 1) {
    return {
      ...laterality,
      ConversionType: 'WSD',
      // SC Multi-frame Image module (PS3.3 C.8.6.3): Burned In Annotation is Type 1; for
      // MONOCHROME2 the Presentation LUT Shape is IDENTITY and the rescale is the identity, with
      // Rescale Type US (unspecified), all Type 1C.
      BurnedInAnnotation: 'NO',
      PresentationLUTShape: 'IDENTITY',
      RescaleIntercept: 0,
      RescaleSlope: 1,
      RescaleType: 'US',
      NumberOfFrames: settings.frames,
      // (0018,1063) Frame Time: frames are evenly spaced in time (PS3.3 C.7.6.6 Multi-frame Module).
      FrameIncrementPointer: 0x00181063,
      FrameTime: 33.3,
      PixelSpacing: [spacing, spacing],
    };
  }
  switch (settings.sopClassUid) {
    case SOP_CLASS.CT:
      // CT Image module (PS3.3 C.8.2.1): Acquisition Number is Type 2.
      return { ...geometry, AcquisitionNumber: 1, KVP: 120, RescaleIntercept: -1024, RescaleSlope: 1, RescaleType: 'HU', WindowCenter: 40, WindowWidth: 400 };
    case SOP_CLASS.MR:
      return {
        ...geometry, ScanningSequence: 'SE', SequenceVariant: 'NONE', ScanOptions: '', MRAcquisitionType: '2D',
        RepetitionTime: 500, EchoTime: 15, EchoTrainLength: 1, MagneticFieldStrength: 1.5,
      };
    default:
      return { ...laterality, ConversionType: 'WSD' };
  }
}
