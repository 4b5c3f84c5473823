import type * as tfl from '@tensorflow/tfjs-layers';
import { hasFeatures, type DetectorBuildOptions } from './features.js';
import { getModel, modelNames } from './registry.js';
import { buildRetinaNet } from './retinanet.js';

export type { DetectorBuildOptions } from './features.js';

/** A detector family: one line per detector (Mask R-CNN would be another). */
export interface DetectorEntry {
  name: string;
  description: string;
  build(options: DetectorBuildOptions): tfl.LayersModel;
}

const DETECTORS: DetectorEntry[] = [
  {
    name: 'retinanet',
    description: 'RetinaNet (torchvision v1 layout): FPN P3-P7 on C3-C5, shared 4-conv heads, 9 anchors per location, focal loss',
    build: buildRetinaNet,
  },
];

const REGISTRY = new Map<string, DetectorEntry>(DETECTORS.map((d) => [d.name, d]));

/** Looks a detector up by name, for the detection task's config; undefined when unknown. */
export function getDetector(name: string): DetectorEntry | undefined {
  return REGISTRY.get(name);
}

/** Registered detector names, for config validation and messages. */
export function detectorNames(): string[] {
  return [...REGISTRY.keys()];
}

/** Architectures that can be a detector's backbone (their entry has `features`), for config validation and messages. */
export function detectorBackbones(): string[] {
  return modelNames().filter((n) => {
    const e = getModel(n);
    return e !== undefined && hasFeatures(e);
  });
}
