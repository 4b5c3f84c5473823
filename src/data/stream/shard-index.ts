import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { DataError } from '../../util/errors.js';

/**
 * `index.json`, written next to the shards by `pwlu data shard`: shard file names and their sample
 * counts per split, the classes, and what the shards were made from. It lets a shard source know n,
 * numClasses and classNames before the first epoch without reading a shard.
 */

/** The index's file name, next to the shards. */
export const SHARD_INDEX_FILE = 'index.json';

const ShardEntrySchema = z.object({
  /** File name, relative to the index's folder. */
  file: z.string().min(1),
  samples: z.number().int().min(0),
  bytes: z.number().int().min(0),
});
const SplitSchema = z.object({
  /** Samples in the split's shards. */
  n: z.number().int().min(0),
  /** Images of the source split (the shards hold all of them once complete). */
  files: z.number().int().min(0),
  shards: z.array(ShardEntrySchema),
});
export const ShardIndexSchema = z.object({
  format: z.literal('pwlu-shards'),
  version: z.literal(1),
  /** False while `pwlu data shard` is still writing (or was interrupted): re-run it to finish. */
  complete: z.boolean(),
  /** The image folder the shards were made from. */
  source: z.string(),
  seed: z.number().int(),
  shard_size: z.number().int().positive(),
  classes: z.array(z.string()),
  train: SplitSchema,
  eval: SplitSchema,
});
/** One shard as the index lists it. */
export type ShardEntry = z.infer<typeof ShardEntrySchema>;
/** The contents of index.json. */
export type ShardIndex = z.infer<typeof ShardIndexSchema>;

/** Reads `dir`/index.json; null when there is none, a DataError naming the file when it is not a pwlu shard index. */
export function readShardIndex(dir: string): ShardIndex | null {
  const path = join(dir, SHARD_INDEX_FILE);
  if (!existsSync(path)) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new DataError(`${path}: cannot read the shard index (${(e as Error).message})`);
  }
  const parsed = ShardIndexSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new DataError(`${path}: not a pwlu shard index (${issue.path.join('.') || 'top level'}: ${issue.message})`);
  }
  return parsed.data;
}

/** Whether `dir` holds a complete shard set written by `pwlu data shard` (for dataset discovery). */
export function hasShardIndex(dir: string): boolean {
  try {
    return readShardIndex(dir)?.complete === true;
  } catch {
    return false;
  }
}
