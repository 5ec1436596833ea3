/** What the catalog keeps of one instance, read from its header (never the pixel data). */
export interface InstanceHeader {
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  instanceNumber: number | null;
  numberOfFrames: number | null;
  patient: { id: string; name: string; birthDate: string; sex: string };
  study: { instanceUid: string; date: string; time: string; description: string; accessionNumber: string };
  series: { instanceUid: string; number: number | null; description: string; modality: string };
  /**
   * The file holds a bare data set: no preamble, "DICM" or File Meta Information (PS3.10 §7.1), as
   * some modalities, old media and other toolkits write. It is sent wrapped in a meta header built
   * for it (import/file-meta-wrapping.ts); the data set's bytes are not changed.
   */
  withoutFileMeta?: true;
}
