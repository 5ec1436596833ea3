import { TAG, type DataSetTree } from '@relaypacs/dicom';

/**
 * A structured report as plain structured text for a person to read: the document title, then the
 * content tree (PS3.3 §C.17.3) one item per line, "Concept: value", containers as headings with
 * their content indented. Every value type of PS3.3 Table C.17.3-7 is shown by its meaning; spatial
 * and waveform references, which need the images, are named, not drawn.
 */

/** Lines at most: a content tree is bounded by the tree reader already; this bounds the answer. */
const MAX_LINES = 20_000;
const INDENT = '  ';

export function renderStructuredReport(dataSet: DataSetTree): string {
  const lines: string[] = [];
  const title = conceptName(dataSet);
  if (title) lines.push(title, '='.repeat(Math.min(title.length, 80)));
  const completion = dataSet.text(TAG.CompletionFlag);
  const verification = dataSet.text(TAG.VerificationFlag);
  if (completion || verification) lines.push(`Status: ${[completion, verification].filter(Boolean).join(', ')}`);
  const date = dataSet.text(TAG.ContentDate);
  if (date) lines.push(`Content date: ${formatDate(date)}${dataSet.text(TAG.ContentTime) ? ` ${formatTime(dataSet.text(TAG.ContentTime)!)}` : ''}`);
  if (lines.length > 0) lines.push('');
  for (const item of dataSet.items(TAG.ContentSequence)) contentItem(item, 0, lines);
  if (lines.length >= MAX_LINES) lines.splice(MAX_LINES, Infinity, '[the report continues beyond what is shown]');
  return `${lines.join('\n').replace(/\n+$/, '')}\n`;
}

function contentItem(item: DataSetTree, depth: number, lines: string[]): void {
  if (lines.length >= MAX_LINES) return;
  const pad = INDENT.repeat(depth);
  const name = conceptName(item);
  const valueType = item.text(TAG.ValueType) ?? '';
  const children = item.items(TAG.ContentSequence);
  if (valueType === 'CONTAINER') {
    if (name) lines.push(`${pad}${name}`);
    for (const child of children) contentItem(child, name ? depth + 1 : depth, lines);
    return;
  }
  const value = valueOf(item, valueType);
  if (value === undefined) {
    // By-reference items (no value type) point at content shown elsewhere.
    for (const child of children) contentItem(child, depth, lines);
    return;
  }
  const text = value.split(/\r\n|\r|\n/);
  lines.push(`${pad}${name ? `${name}: ` : ''}${text[0]}`);
  for (const more of text.slice(1)) lines.push(`${pad}${INDENT}${more}`);
  for (const child of children) contentItem(child, depth + 1, lines);
}

function valueOf(item: DataSetTree, valueType: string): string | undefined {
  switch (valueType) {
    case 'TEXT':
      return item.longText(TAG.TextValue) ?? '';
    case 'CODE':
      return codeMeaning(item.items(TAG.ConceptCodeSequence)[0]) ?? '';
    case 'NUM': {
      const [measured] = item.items(TAG.MeasuredValueSequence);
      if (!measured) return '(no value)';
      const units = measured.items(TAG.MeasurementUnitsCodeSequence)[0];
      const unit = units?.text(TAG.CodeValue);
      return `${measured.text(TAG.NumericValue) ?? ''}${unit && unit !== '1' ? ` ${unit}` : ''}`;
    }
    case 'PNAME':
      return personName(item.text(TAG.PersonName) ?? '');
    case 'DATE':
      return formatDate(item.text(TAG.Date) ?? '');
    case 'TIME':
      return formatTime(item.text(TAG.Time) ?? '');
    case 'DATETIME':
      return item.text(TAG.DateTime) ?? '';
    case 'UIDREF':
      return item.uid(TAG.UID) ?? '';
    case 'IMAGE':
      return '(image reference)';
    case 'COMPOSITE':
      return '(object reference)';
    case 'WAVEFORM':
      return '(waveform reference)';
    case 'SCOORD':
    case 'SCOORD3D':
    case 'TCOORD':
      return '(coordinates)';
    case '':
      return undefined;
    default:
      return `(${valueType})`;
  }
}

function conceptName(item: DataSetTree): string | undefined {
  return codeMeaning(item.items(TAG.ConceptNameCodeSequence)[0]);
}

function codeMeaning(code: DataSetTree | undefined): string | undefined {
  if (!code) return undefined;
  return code.text(TAG.CodeMeaning) || code.text(TAG.CodeValue) || undefined;
}

/** PS3.5 §6.2 PN: components separated by ^, groups by =; shown as "Given Family" of the first group. */
function personName(value: string): string {
  const [family = '', given = '', middle = '', prefix = '', suffix = ''] = value.split('=')[0]!.split('^');
  return [prefix, given, middle, family, suffix].filter((part) => part.trim()).join(' ');
}

function formatDate(value: string): string {
  return /^\d{8}$/.test(value) ? `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6, 8)}` : value;
}

function formatTime(value: string): string {
  return /^\d{4}/.test(value) ? `${value.slice(0, 2)}:${value.slice(2, 4)}${value.length >= 6 ? `:${value.slice(4, 6)}` : ''}` : value;
}
