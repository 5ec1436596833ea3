export { generateStudy } from './study-generator.js';
export type { GeneratedInstance, GeneratedSeries, GeneratedStudy, GeneratorModality, ProgressListener, StudySpec } from './study-generator.js';
export { TRANSFER_SYNTAX_NAMES, TRANSFER_SYNTAX_UIDS, isTransferSyntaxName, type TransferSyntaxName } from './transfer-syntax.js';
export type { SyntheticPatient } from './synthetic-patient.js';
export { OrthancServer, DICOMWEB_PLUGIN_PATH, type OrthancOptions, type OrthancInstanceSummary, type StowRsResult } from './orthanc-server.js';
export { ManagedProcess, waitUntilReady, type ExitStatus, type ManagedProcessOptions } from './managed-process.js';
export { freeLoopbackPort, freeLoopbackPorts } from './free-port.js';
export { dcmdump, dumpedValue } from './dcmtk.js';
export { RELAY_BIN, relayUserCommand, spawnRelay } from './relay-process.js';
