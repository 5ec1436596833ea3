/**
 * The STOW-RS Store Instances Response (PS3.18 §10.5.3) read from DICOM JSON (PS3.18 Annex F) or
 * the Native DICOM Model in XML (PS3.19 §A.1). Pure functions: text in, facts out, nothing logged.
 * Only UIDs and status codes are kept; nothing else in the body is looked at.
 */

export interface StoreInstancesResponse {
  /** Referenced SOP Sequence (0008,1199): instances the origin server stored, by SOP Instance UID. */
  referenced: Map<string, { sopClassUid?: string; warningReason?: number }>;
  /** Failed SOP Sequence (0008,1198): instances it did not store, by SOP Instance UID. */
  failed: Map<string, { sopClassUid?: string; failureReason?: number }>;
  /** Failure Reasons in Other Failures Sequence (0008,119A): problems not tied to one instance. */
  otherFailures: number[];
  /** A Warning Reason (0008,1196) at the top level, which some servers use for the whole request. */
  warningReason?: number;
}

const TAG = {
  warningReason: '00081196',
  failureReason: '00081197',
  failedSopSequence: '00081198',
  referencedSopSequence: '00081199',
  otherFailuresSequence: '0008119A',
  referencedSopClassUid: '00081150',
  referencedSopInstanceUid: '00081155',
} as const;

/** A data set in the DICOM JSON shape: tag → { vr, Value }. The XML reader produces the same shape. */
type DataSet = Record<string, { vr?: unknown; Value?: unknown } | undefined>;

export class UnreadableResponseError extends Error {}

/**
 * Reads a Store Instances Response. `contentType` decides the syntax; when it is missing or
 * generic (Orthanc 1.10 sends none with a 409) the first character does. Returns undefined for an
 * empty body; throws UnreadableResponseError for one that is neither syntax or not a data set.
 */
export function parseStoreInstancesResponse(body: string, contentType: string | null | undefined): StoreInstancesResponse | undefined {
  const text = body.replace(/^\uFEFF/, '').trim();
  if (text === '') return undefined;
  const type = (contentType ?? '').toLowerCase();
  const xml = type.includes('xml') || (!type.includes('json') && text.startsWith('<'));
  return xml ? parseStoreInstancesResponseXml(text) : parseStoreInstancesResponseJson(parseJson(text));
}

/** A Store Instances Response as parsed DICOM JSON: one data set, or an array holding one. */
export function parseStoreInstancesResponseJson(json: unknown): StoreInstancesResponse {
  const dataSet = Array.isArray(json) && json.length === 1 ? json[0] : json;
  if (!isDataSet(dataSet)) throw new UnreadableResponseError('the response is not a DICOM JSON data set');
  return readResponse(dataSet);
}

/** A Store Instances Response as a PS3.19 NativeDicomModel document. */
export function parseStoreInstancesResponseXml(xml: string): StoreInstancesResponse {
  const root = parseXml(xml);
  if (root.name !== 'NativeDicomModel') throw new UnreadableResponseError(`the XML response is a <${root.name}>, not a NativeDicomModel`);
  return readResponse(xmlDataSet(root));
}

/**
 * The SOP Instance UIDs (0008,0018) in a QIDO-RS instance-level answer in DICOM JSON (PS3.18
 * §10.6.3): an array of data sets, one per matching instance. An empty body means no match.
 */
export function parseQidoSopInstanceUids(body: string): string[] {
  return parseQidoMatches(body).flatMap((match) => match.string(SOP_INSTANCE_UID) ?? []);
}

/** One data set of a QIDO-RS answer (PS3.18 §F.2), its first values read by tag ("0020000D"). */
export interface QidoMatch {
  string(tag: string): string | undefined;
  /** Every value of a multi-valued attribute (e.g. ModalitiesInStudy). */
  strings(tag: string): string[];
  number(tag: string): number | undefined;
}

/** A QIDO-RS answer in DICOM JSON (PS3.18 §F.2): its data sets; none for an empty body. */
export function parseQidoMatches(body: string): QidoMatch[] {
  const text = body.replace(/^\uFEFF/, '').trim();
  if (text === '') return [];
  const json = parseJson(text);
  if (!Array.isArray(json)) throw new UnreadableResponseError('the QIDO-RS response is not a DICOM JSON array');
  return json.filter(isDataSet).map((dataSet) => ({
    string: (tag) => firstString(dataSet, tag),
    strings: (tag) => values(dataSet, tag).filter((v): v is string => typeof v === 'string').map((v) => v.trim()),
    number: (tag) => firstNumber(dataSet, tag),
  }));
}

const SOP_INSTANCE_UID = '00080018';

function readResponse(dataSet: DataSet): StoreInstancesResponse {
  const response: StoreInstancesResponse = { referenced: new Map(), failed: new Map(), otherFailures: [] };
  for (const item of items(dataSet, TAG.referencedSopSequence)) {
    const uid = firstString(item, TAG.referencedSopInstanceUid);
    if (uid !== undefined) response.referenced.set(uid, { sopClassUid: firstString(item, TAG.referencedSopClassUid), warningReason: firstNumber(item, TAG.warningReason) });
  }
  for (const item of items(dataSet, TAG.failedSopSequence)) {
    const uid = firstString(item, TAG.referencedSopInstanceUid);
    if (uid !== undefined) response.failed.set(uid, { sopClassUid: firstString(item, TAG.referencedSopClassUid), failureReason: firstNumber(item, TAG.failureReason) });
  }
  for (const item of items(dataSet, TAG.otherFailuresSequence)) {
    const reason = firstNumber(item, TAG.failureReason);
    if (reason !== undefined) response.otherFailures.push(reason);
  }
  const warning = firstNumber(dataSet, TAG.warningReason);
  if (warning !== undefined) response.warningReason = warning;
  return response;
}

/*
 * Failure Reason (0008,1197) codes, from PS3.18 §10.5.3 (STOW-RS), PS3.4 Table B.2-1 (the
 * C-STORE statuses they come from) and PS3.7 Annex C, and whether sending the same bytes again
 * can succeed:
 *
 *   code        meaning                                            retry
 *   A700–A7FF   Refused: out of resources                          transient: space or load frees up
 *   0213        Resource limitation                                transient
 *   A900–A9FF   Error: data set does not match SOP class           permanent
 *   C000–CFFF   Error: cannot understand (C122: transfer syntax    permanent
 *               not supported)
 *   0110        Processing failure (Orthanc: the instance is not   permanent: the same input fails
 *               of the study in the URL)                           the same way
 *   0111        Duplicate SOP instance, refused                    permanent
 *   0117        Invalid SOP instance                               permanent
 *   0122        SOP class not supported                            permanent
 *   0124        Not authorized                                     permanent: needs an administrator
 *   other/none  not in the standard's list                         permanent: shown with its code
 *
 * A permanent failure is never lost: it is shown with its code for a person to act on.
 */
export function failureReasonMeaning(code: number | undefined): { permanent: boolean; meaning: string } {
  if (code === undefined) return { permanent: true, meaning: 'failed without a Failure Reason' };
  if (code >= 0xa700 && code <= 0xa7ff) return { permanent: false, meaning: 'refused: out of resources' };
  if (code === 0x0213) return { permanent: false, meaning: 'refused: resource limitation' };
  if (code >= 0xa900 && code <= 0xa9ff) return { permanent: true, meaning: 'the data set does not match its SOP class' };
  if (code === 0xc122) return { permanent: true, meaning: 'the transfer syntax is not supported' };
  if (code >= 0xc000 && code <= 0xcfff) return { permanent: true, meaning: 'the destination cannot understand the instance' };
  const known: Record<number, string> = {
    0x0110: 'processing failure',
    0x0111: 'a different instance with the same SOP Instance UID is already stored',
    0x0117: 'invalid SOP instance',
    0x0122: 'the SOP class is not supported',
    0x0124: 'not authorized to store this instance',
  };
  return { permanent: true, meaning: known[code] ?? 'failure reason not in the DICOM standard' };
}

/** Warning Reason (0008,1196) codes, PS3.18 §10.5.3: the instance was stored, but not as sent. */
export function warningReasonMeaning(code: number): string {
  const known: Record<number, string> = {
    0xb000: 'some attribute values were coerced',
    0xb006: 'some elements were discarded',
    0xb007: 'the data set does not match its SOP class',
  };
  return known[code] ?? 'warning reason not in the DICOM standard';
}

/** A status code as DICOM writes it: four upper-case hex digits, e.g. 0110 or A700. */
export function statusCodeHex(code: number): string {
  return code.toString(16).toUpperCase().padStart(4, '0');
}

// ---- DICOM JSON access (PS3.18 Annex F) ----

function isDataSet(value: unknown): value is DataSet {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function attribute(dataSet: DataSet, tag: string): { vr?: unknown; Value?: unknown } | undefined {
  // Annex F.2.1.1 says upper-case hex; tolerate servers that write lower case.
  return dataSet[tag] ?? dataSet[tag.toLowerCase()];
}

function values(dataSet: DataSet, tag: string): unknown[] {
  const value = attribute(dataSet, tag)?.Value;
  return Array.isArray(value) ? value : [];
}

function items(dataSet: DataSet, tag: string): DataSet[] {
  return values(dataSet, tag).filter(isDataSet);
}

function firstString(dataSet: DataSet, tag: string): string | undefined {
  const value = values(dataSet, tag)[0];
  // UI values may carry the trailing NUL padding of the binary encoding (PS3.5 §9.1).
  return typeof value === 'string' ? value.replace(/[\0 ]+$/, '') || undefined : undefined;
}

function firstNumber(dataSet: DataSet, tag: string): number | undefined {
  const value = values(dataSet, tag)[0];
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  // XML carries every value as text; a few JSON writers quote numbers too.
  if (typeof value === 'string' && /^\s*\d+\s*$/.test(value)) return Number(value);
  return undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UnreadableResponseError('the response is neither DICOM JSON nor XML');
  }
}

// ---- Native DICOM Model (PS3.19 §A.1) ----

function xmlDataSet(element: XmlElement): DataSet {
  const dataSet: DataSet = {};
  for (const attributeElement of childElements(element, 'DicomAttribute')) {
    const tag = attributeElement.attributes.tag?.toUpperCase();
    if (!tag) continue;
    const vr = attributeElement.attributes.vr;
    // Items and values carry a 1-based "number"; order by it rather than trusting document order.
    const itemElements = byNumber(childElements(attributeElement, 'Item'));
    const Value = vr === 'SQ' || itemElements.length > 0
      ? itemElements.map(xmlDataSet)
      : byNumber(childElements(attributeElement, 'Value')).map((value) => textOf(value).trim());
    dataSet[tag] = { vr, Value };
  }
  return dataSet;
}

function byNumber(elements: XmlElement[]): XmlElement[] {
  return elements
    .map((element, index) => ({ element, order: Number(element.attributes.number ?? index + 1) }))
    .sort((a, b) => a.order - b.order)
    .map(({ element }) => element);
}

// ---- A minimal XML reader: elements, attributes, text; enough for PS3.19 documents ----

interface XmlElement {
  /** Local name: a namespace prefix is dropped. */
  name: string;
  attributes: Record<string, string | undefined>;
  children: (XmlElement | string)[];
}

function childElements(element: XmlElement, name: string): XmlElement[] {
  return element.children.filter((child): child is XmlElement => typeof child !== 'string' && child.name === name);
}

function textOf(element: XmlElement): string {
  return element.children.map((child) => (typeof child === 'string' ? child : textOf(child))).join('');
}

function localName(qualified: string): string {
  return qualified.slice(qualified.indexOf(':') + 1);
}

function parseXml(text: string): XmlElement {
  const document: XmlElement = { name: '#document', attributes: {}, children: [] };
  const stack: XmlElement[] = [document];
  const fail = (what: string): never => {
    throw new UnreadableResponseError(`the XML response is malformed: ${what}`);
  };
  const skipTo = (marker: string, from: number) => {
    const end = text.indexOf(marker, from);
    return end < 0 ? fail(`unterminated ${marker}`) : end + marker.length;
  };
  let i = 0;
  while (i < text.length) {
    const current = stack[stack.length - 1] ?? fail('unbalanced elements');
    const lt = text.indexOf('<', i);
    if (lt < 0 || lt > i) current.children.push(decodeEntities(text.slice(i, lt < 0 ? text.length : lt)));
    if (lt < 0) break;
    if (text.startsWith('<!--', lt)) { i = skipTo('-->', lt + 4); continue; }
    if (text.startsWith('<![CDATA[', lt)) {
      const end = skipTo(']]>', lt + 9);
      current.children.push(text.slice(lt + 9, end - 3));
      i = end;
      continue;
    }
    if (text.startsWith('<?', lt)) { i = skipTo('?>', lt + 2); continue; }
    if (text.startsWith('<!', lt)) { i = skipTo('>', lt + 2); continue; }
    const gt = tagEnd(text, lt) ?? fail('unterminated tag');
    const inner = text.slice(lt + 1, gt);
    i = gt + 1;
    if (inner.startsWith('/')) {
      const closed = stack.pop();
      if (!closed || stack.length === 0 || closed.name !== localName(inner.slice(1).trim())) fail(`unexpected </${inner.slice(1).trim()}>`);
      continue;
    }
    const selfClosing = inner.endsWith('/');
    const body = selfClosing ? inner.slice(0, -1) : inner;
    const nameMatch = /^[^\s/>]+/.exec(body) ?? fail('element without a name');
    const element: XmlElement = { name: localName(nameMatch[0]), attributes: {}, children: [] };
    for (const match of body.slice(nameMatch[0].length).matchAll(/([^\s=]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
      element.attributes[localName(match[1] ?? '')] = decodeEntities(match[2] ?? match[3] ?? '');
    }
    current.children.push(element);
    if (!selfClosing) stack.push(element);
  }
  if (stack.length !== 1) fail('unclosed elements');
  const root = document.children.find((child): child is XmlElement => typeof child !== 'string');
  return root ?? fail('no root element');
}

/** Index of the '>' that ends the tag opened at `lt`, skipping quoted attribute values. */
function tagEnd(text: string, lt: number): number | undefined {
  let quote: string | undefined;
  for (let j = lt + 1; j < text.length; j++) {
    const c = text[j];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '>') {
      return j;
    }
  }
  return undefined;
}

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|quot|apos);/g, (_, entity: string) => {
    if (entity.startsWith('#')) {
      const codePoint = entity.startsWith('#x') ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10);
      return codePoint <= 0x10ffff ? String.fromCodePoint(codePoint) : '\uFFFD';
    }
    return { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }[entity] ?? '';
  });
}
