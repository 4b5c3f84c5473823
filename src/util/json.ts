/** Narrowing helpers for JSON read back from disk, where any field may be missing or of another type. */

/** A parsed JSON object. */
export type Json = Record<string, unknown>;

/** Whether a parsed value is a JSON object (not null, not a list), so its fields can be read safely. */
export function isRecord(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A finite number, or null: a missing or non-numeric field reads as "unknown", never as NaN or a string. */
export function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}
