// Command-line arguments of `npm run gen`, parsed and checked apart from running it.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { GeneratorModality, StudySpec } from './study-generator.js';
import { TRANSFER_SYNTAX_NAMES, isTransferSyntaxName } from './transfer-syntax.js';

export const GEN_USAGE = `Usage: npm run gen -- --out DIR [options]

Writes one synthetic study (valid DICOM Part 10, invented patient) under DIR/S001, DIR/S002, ...

  --out DIR               where to write (created if missing)            required
  --instances N           instances in the study                         default 1
  --series N              series to spread them over                     default 1
  --size ROWSxCOLUMNS     image size, e.g. 512x512 or 64x64              default 512x512
  --bits 8|16             bits allocated per sample                      default 16
  --frames N              frames per instance (N > 1: multi-frame SC)    default 1
  --transfer-syntax TS    ${TRANSFER_SYNTAX_NAMES.join(' | ')}   default explicit-le
  --modality CT|MR|OT                                                    default CT
  --seed N                reproduce a study exactly (UIDs included)
  --patient-name NAME     DICOM PN such as DOE^JANE (synthetic names only)
  --no-extension          files without .dcm, as many modalities write them
  --manifest FILE         also write the JSON summary to FILE
  --help`;

export class UsageError extends Error {}

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new UsageError(`--${name} must be a whole number of at least 1, got "${value}"`);
  return parsed;
}

export function parseGenArgs(argv: string[]): { out: string; spec: StudySpec; manifest?: string } | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      out: { type: 'string' },
      instances: { type: 'string' },
      series: { type: 'string' },
      size: { type: 'string' },
      bits: { type: 'string' },
      frames: { type: 'string' },
      'transfer-syntax': { type: 'string' },
      modality: { type: 'string' },
      seed: { type: 'string' },
      'patient-name': { type: 'string' },
      'no-extension': { type: 'boolean' },
      manifest: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) return 'help';
  if (!values.out) throw new UsageError('--out DIR is required');
  const size = /^(\d+)x(\d+)$/.exec(values.size ?? '512x512');
  if (!size) throw new UsageError(`--size must look like 512x512, got "${values.size}"`);
  const bits = values.bits ?? '16';
  if (bits !== '8' && bits !== '16') throw new UsageError(`--bits must be 8 or 16, got "${bits}"`);
  const transferSyntax = values['transfer-syntax'] ?? 'explicit-le';
  if (!isTransferSyntaxName(transferSyntax)) throw new UsageError(`--transfer-syntax must be one of ${TRANSFER_SYNTAX_NAMES.join(', ')}, got "${transferSyntax}"`);
  const modality = (values.modality ?? 'CT').toUpperCase();
  if (!['CT', 'MR', 'OT'].includes(modality)) throw new UsageError(`--modality must be CT, MR or OT, got "${values.modality}"`);
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  if (seed !== undefined && !Number.isInteger(seed)) throw new UsageError(`--seed must be a whole number, got "${values.seed}"`);
  const spec: StudySpec = {
    instances: positiveInt('instances', values.instances, 1),
    series: positiveInt('series', values.series, 1),
    rows: Number(size[1]),
    columns: Number(size[2]),
    bitsAllocated: bits === '8' ? 8 : 16,
    frames: positiveInt('frames', values.frames, 1),
    transferSyntax,
    modality: modality as GeneratorModality,
    ...(seed === undefined ? {} : { seed }),
    ...(values['patient-name'] ? { patient: { name: values['patient-name'] } } : {}),
    ...(values['no-extension'] ? { extension: '' } : {}),
  };
  return { out: resolve(values.out), spec, ...(values.manifest ? { manifest: resolve(values.manifest) } : {}) };
}
