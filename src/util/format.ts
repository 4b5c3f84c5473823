/** Human-readable numbers for messages and tables, one spelling each. */

/** A byte count in the largest binary unit that keeps it above 1 (B, KiB, MiB), for progress bars and logs. */
export function formatBytes(v: number): string {
  if (v >= 1 << 20) return `${(v / (1 << 20)).toFixed(1)} MiB`;
  if (v >= 1 << 10) return `${(v / (1 << 10)).toFixed(1)} KiB`;
  return `${v} B`;
}

/** Byte counts for error messages: exact bytes beside the binary unit, so a size is both readable and precise. */
export function formatBytesExact(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = -1;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]} (${n} bytes)`;
}

/** Bytes as MiB with one decimal ('—' when unknown), for table columns whose header already names the unit. */
export function formatMiB(bytes: number | null): string {
  return bytes === null ? '—' : (bytes / 2 ** 20).toFixed(1);
}
