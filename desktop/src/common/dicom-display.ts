/**
 * DICOM values as people read them: the one formatter of names and dates, used by the core (what crosses
 * IPC, the history CSV) and the renderer alike, so that a name reads the same wherever it is shown.
 */

/**
 * PS3.5 §6.2 Person Name: up to three component groups
 * (alphabetic=ideographic=phonetic) of family^given^middle^prefix^suffix; the alphabetic group is
 * shown, or the first one that has anything in it.
 */
export function formatPersonName(value: string): string {
  const group = value.split('=').find((g) => g.replace(/\^/g, '').trim() !== '') ?? '';
  const [family = '', given = '', middle = '', prefix = '', suffix = ''] = group.split('^').map((part) => part.trim());
  const rest = [prefix, given, middle].filter(Boolean).join(' ');
  const name = family && rest ? `${family}, ${rest}` : family || rest;
  return suffix ? `${name} ${suffix}` : name;
}

/**
 * DA (YYYYMMDD, PS3.5 §6.2) → ISO 8601 YYYY-MM-DD, as is the old "YYYY.MM.DD"; an ISO date or timestamp
 * gives its date; anything else as it is (trimmed; empty stays empty).
 */
export function formatDicomDate(value: string): string {
  const trimmed = value.trim();
  const da = /^(\d{4})(\d{2})(\d{2})$/.exec(trimmed) ?? /^(\d{4})\.(\d{2})\.(\d{2})$/.exec(trimmed) ?? /^(\d{4})-(\d{2})-(\d{2})/.exec(trimmed);
  return da ? `${da[1]}-${da[2]}-${da[3]}` : trimmed;
}

/**
 * A name as a person types it ("Doe, Jane" or "Jane Doe") as a DICOM Person Name (PS3.5 §6.2):
 * before the first comma the family name, after it the given names, so it reads back through
 * formatPersonName as typed. A name already written with ^ or = is taken as it is.
 */
export function personNameFromDisplay(value: string): string {
  const name = value.trim();
  if (name.includes('^') || name.includes('=')) return name;
  const comma = name.indexOf(',');
  if (comma < 0) return name;
  const family = name.slice(0, comma).trim();
  const given = name.slice(comma + 1).trim();
  return given ? `${family}^${given}` : family;
}
