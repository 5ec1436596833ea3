// @relaypacs/dicom: the one DICOM reading core of RelayPACS, shared by the desktop (indexer,
// DICOMDIR reader, photo writer, folder watcher) and the relay (validator, forwarding). Plain
// TypeScript on Node built-ins: no Electron, no Fastify, no npm dependencies.
export { ReadBudget, StoredBytes, type ByteSource, type HeaderReader } from './byte-source.js';
export { ByteWindow } from './byte-window.js';
export { LONG_LENGTH_VRS, UNDEFINED_LENGTH, readElementHeader, tagName, type ElementHeader, type ValueRepresentation } from './data-element.js';
export { MAX_KEPT_VALUE_BYTES, MAX_SEQUENCE_DEPTH, walkDataSet, type DataSetFacts, type ItemListener, type WalkOptions } from './data-set-walker.js';
export { DataSetTree, readDataSetTree, readPart10Tree, type Part10Tree, type TreeElement, type TreeReadOptions } from './data-set-tree.js';
export { encodeElement, encodeElementHeader, encodeItemHeader, paddedText, UNDEFINED_LENGTH_VALUE } from './element-writer.js';
export { encodeFileMeta, readFileMeta, type FileMeta, type FileMetaFields } from './file-meta.js';
export { fileRangeReader } from './file-range-reader.js';
export { InflatedBytes } from './inflated-bytes.js';
export {
  DEFAULT_FIRST_READ_BYTES, DEFAULT_MAX_HEADER_BYTES, readInstance,
  type InstanceRead, type InstanceReadOptions, type InstanceReadResult,
} from './instance-reader.js';
export { ByteReadFailure, DicomReadError, formatTag, type DicomReadProblem } from './read-problem.js';
export { ANY_SOP_CLASS, DEFAULT_ALLOWED_SOP_CLASSES, sopClassName } from './sop-classes.js';
export { TAG } from './tags.js';
export { integerString, textDecoderFor, trimText } from './text-value.js';
export {
  DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_BIG_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_LE, IMPLICIT_VR_LITTLE_ENDIAN,
  dataSetEncoding, type DataSetEncoding,
} from './transfer-syntax.js';
export { MAX_UID_BYTES, isWellFormedUid, normalizeUid } from './uid.js';
