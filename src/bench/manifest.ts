/** The cells bench.json lists for an invocation (its format, reader and writer are in src/run/bench-manifest.ts). */
import type { BenchManifest, ManifestCell } from '../run/bench-manifest.js';
import type { Cell } from './grid.js';

/**
 * The manifest cells for this invocation's grid, carrying over each cell's history from an earlier
 * manifest; earlier cells outside the grid are kept when they were ever launched (their results exist).
 */
export function mergeCells(grid: Cell[], previous: BenchManifest | null): ManifestCell[] {
  const old = new Map((previous?.cells ?? []).map((c) => [c.name, c]));
  const cells: ManifestCell[] = grid.map((c) => {
    const o = old.get(c.name);
    return { ...c, dir: `cells/${c.name}`, status: o?.status === 'running' ? 'pending' : (o?.status ?? 'pending'), attempts: o?.attempts ?? [], ...(o?.error_tail ? { error_tail: o.error_tail } : {}) };
  });
  const inGrid = new Set(grid.map((c) => c.name));
  for (const o of previous?.cells ?? []) if (!inGrid.has(o.name) && o.attempts.length > 0) cells.push({ ...o, pid: undefined });
  return cells;
}
