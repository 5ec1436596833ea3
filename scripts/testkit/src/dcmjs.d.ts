// dcmjs ships no type declarations; these cover the part of its API the test kit (which writes
// test data with it, a toolkit other than RelayPACS's own reader) and the photo tests (which read
// pixel data back with it) use. One declaration, included by both projects.
declare module 'dcmjs' {
  export interface DicomJsonElement {
    vr: string;
    Value?: unknown[];
  }
  export type DicomJsonDataset = Record<string, DicomJsonElement>;
  export type NaturalDataset = Record<string, unknown>;

  class DicomDict {
    constructor(meta: DicomJsonDataset);
    meta: DicomJsonDataset;
    dict: DicomJsonDataset;
    write(options?: { allowInvalidVRLength?: boolean; fragmentMultiframe?: boolean }): ArrayBuffer;
  }
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- referenced through typeof below
  class DicomMessage {
    static readFile(buffer: ArrayBuffer, options?: { untilTag?: string; ignoreErrors?: boolean }): DicomDict;
  }
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- referenced through typeof below
  const DicomMetaDictionary: {
    denaturalizeDataset(dataset: NaturalDataset): DicomJsonDataset;
    naturalizeDataset(dataset: DicomJsonDataset): NaturalDataset;
  };
  const dcmjs: {
    data: {
      DicomDict: typeof DicomDict;
      DicomMessage: typeof DicomMessage;
      DicomMetaDictionary: typeof DicomMetaDictionary;
    };
  };
  export default dcmjs;
}
