/**
 * Transfer rates as people type them. Bytes use SI prefixes (1 MB/s = 1,000,000 bytes/s, as network
 * gear and most speed tests count) or binary ones (KiB/s, MiB/s); bits are spelled out (Mbit/s) because
 * "Mb/s" is read as megabytes by some and megabits by others, and a factor of eight matters on a
 * clinic's link.
 */
export class ByteRateError extends Error {}

const UNITS: Record<string, number> = {
  'b/s': 1, 'kb/s': 1e3, 'mb/s': 1e6, 'gb/s': 1e9,
  'kib/s': 1024, 'mib/s': 1024 ** 2, 'gib/s': 1024 ** 3,
  'bit/s': 1 / 8, 'kbit/s': 1e3 / 8, 'mbit/s': 1e6 / 8, 'gbit/s': 1e9 / 8,
};

const RATE = /^(\d+(?:\.\d+)?)\s*([a-z]+\/s)?$/i;

/** Bytes per second, or null for "off" (no cap). Throws ByteRateError saying what to write instead. */
export function parseByteRate(text: string): number | null {
  const trimmed = text.trim();
  if (/^(off|none|unlimited)$/i.test(trimmed)) return null;
  const match = RATE.exec(trimmed);
  if (!match) throw new ByteRateError(`"${text}" is not a rate: write e.g. 4MB/s, 512KB/s, 20Mbit/s, or off`);
  const unit = match[2];
  // A bare number is bytes per second.
  if (unit === undefined) return Math.round(Number(match[1]));
  // A lower-case b after a prefix (Mb/s, kb/s) is ambiguous: megabits or megabytes.
  if (/^([kmg]i?)?b\/s$/i.test(unit) && unit.at(-3) === 'b') {
    const prefix = unit.slice(0, -3);
    const si = prefix.slice(0, 1).toUpperCase();
    throw new ByteRateError(`"${text}" is ambiguous: write ${match[1]}${si}${prefix.slice(1).toLowerCase()}B/s for bytes or ${match[1]}${si}bit/s for bits`);
  }
  const factor = UNITS[unit.toLowerCase()];
  if (factor === undefined) throw new ByteRateError(`"${unit}" in "${text}" is not a unit of rate: use B/s, KB/s, MB/s, GB/s, KiB/s, MiB/s or kbit/s, Mbit/s, Gbit/s`);
  return Math.round(Number(match[1]) * factor);
}

/** "4 MB/s", "512 KB/s", "1.5 MB/s": SI bytes, as parseByteRate reads them. */
export function formatByteRate(bytesPerSecond: number): string {
  for (const [unit, size] of [['GB/s', 1e9], ['MB/s', 1e6], ['KB/s', 1e3]] as const) {
    if (bytesPerSecond >= size) return `${Number((bytesPerSecond / size).toFixed(2))} ${unit}`;
  }
  return `${bytesPerSecond} B/s`;
}
