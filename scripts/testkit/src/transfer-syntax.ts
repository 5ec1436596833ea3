/** The uncompressed transfer syntaxes the generator writes (PS3.5 §10, Annex A). */
export const TRANSFER_SYNTAX_UIDS = {
  'implicit-le': '1.2.840.10008.1.2',
  'explicit-le': '1.2.840.10008.1.2.1',
  'deflated-le': '1.2.840.10008.1.2.1.99',
  'explicit-be': '1.2.840.10008.1.2.2',
} as const;

export type TransferSyntaxName = keyof typeof TRANSFER_SYNTAX_UIDS;

export const TRANSFER_SYNTAX_NAMES = Object.keys(TRANSFER_SYNTAX_UIDS) as TransferSyntaxName[];

export function isTransferSyntaxName(value: string): value is TransferSyntaxName {
  return Object.hasOwn(TRANSFER_SYNTAX_UIDS, value);
}
