export { generateStudy } from './study-generator.js';
export { SeededRandom } from './seeded-random.js';
export type { GeneratedInstance, GeneratedSeries, GeneratedStudy, GeneratorModality, ProgressListener, StudySpec } from './study-generator.js';
export { TRANSFER_SYNTAX_NAMES, TRANSFER_SYNTAX_UIDS, isTransferSyntaxName, type TransferSyntaxName } from './transfer-syntax.js';
export type { SyntheticPatient } from './synthetic-patient.js';
export { OrthancServer, DICOMWEB_PLUGIN_PATH, type OrthancOptions, type OrthancInstanceSummary, type StowRsResult } from './orthanc-server.js';
export { ManagedProcess, waitUntilReady, type ExitStatus, type ManagedProcessOptions } from './managed-process.js';
export { freeLoopbackPort, freeLoopbackPorts } from './free-port.js';
export { cpuSeconds, liveProcessGroupMembers, waitForProcessGroupGone } from './process-group.js';
export { SwiftS3Server, SWIFT_CONF, type SwiftS3Options } from './swift-s3-server.js';
export { PostgresServer, postgresBinDir, POSTGRES_LIB_DIR, type PostgresOptions } from './postgres-server.js';
export { dcmdump, dumpedValue } from './dcmtk.js';
export { writeReportDocument, type ReportDocumentKind, type ReportDocumentSpec, type WrittenReportDocument } from './report-documents.js';
export { dciodvfy, type DciodvfyReport } from './dciodvfy.js';
export { RELAY_BIN, relayUserCommand, spawnRelay } from './relay-process.js';
export { StorescpServer, STORESCP_BINARY, type StorescpOptions, type StorescpAcceptance, type ReceivedFile } from './storescp-server.js';
export { startKeyringSession, dbusSend, type KeyringSession, type KeyringSessionOptions } from './keyring-session.js';
export { runNodeProgram, type ProgramResult } from './run-node-program.js';
export { CuttingProxy } from './cutting-proxy.js';
export { RoundRobinBalancer } from './round-robin-balancer.js';
export { zipLocalHeader, zipCentralHeader, zipEndRecords, ZIP_SIGNATURES, ZIP_MAX32, type ZipRecordEntry } from './zip-records.js';
export { SmallDisk, CAN_MOUNT } from './small-disk.js';
export { openRaw, floodBody, dripBody, statusOf, headerOf, type RawConnection } from './raw-http.js';
export {
  writeForeignCorpus, postForeignCorpus, dataSetOf, dataSetOffset, isPart10, minimalPdf, ORTHANC_VERDICTS, COMPRESSED_TRANSFER_SYNTAX_UIDS,
  type ForeignCase, type ForeignCaseKind, type ForeignCorpusOptions, type OrthancVerdict, type OrthancMeasurement, type Truncation,
} from './foreign-dicom.js';
