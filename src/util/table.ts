/** Plain-text tables for terminal output: one alignment rule, so every command's tables line up alike. */

/** Column alignment: 'left' pads on the right, 'right' pads on the left (numbers). */
export type Align = 'left' | 'right';

/**
 * Lays out rows (the header first, if any) in columns two spaces apart, each as wide as its widest cell;
 * trailing spaces are trimmed. Shared so commands do not each re-derive widths and padding.
 */
export function formatTable(rows: readonly (readonly string[])[], align: (column: number) => Align = () => 'left'): string[] {
  const columns = Math.max(0, ...rows.map((r) => r.length));
  const widths = Array.from({ length: columns }, (_, i) => Math.max(0, ...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) =>
    r
      .map((c, i) => (align(i) === 'right' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}
