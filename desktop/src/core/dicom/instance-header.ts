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
}
