/**
 * sharp (libvips), loaded on first use: only image folders and shards decode with it, and its native part is the
 * largest package pwlu loads, so a run on idx or CIFAR data, or a pruned install (scripts/gpu-check.sh --pack), never
 * needs it.
 */
import type SharpFactory from 'sharp';

let loading: Promise<typeof SharpFactory> | null = null;

/** The sharp factory, imported once. */
export function loadSharp(): Promise<typeof SharpFactory> {
  loading ??= import('sharp').then((m) => m.default);
  return loading;
}
