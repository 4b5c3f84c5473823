import { efficientnetB0 } from './efficientnet.js';
import { mobilenetV2 } from './mobilenet-v2.js';
import { mobilenetV3Large, mobilenetV3Small } from './mobilenet-v3.js';
import { plainnet } from './plainnet.js';
import { resnet18, resnet34, resnet50 } from './resnet.js';
import { resnet20, resnet56 } from './resnet-cifar.js';
import type { ModelEntry } from './types.js';

/** Every architecture pwlu builds. A family file exports entries; list them here. */
const ENTRIES: ModelEntry[] = [resnet20, resnet56, resnet18, resnet34, resnet50, mobilenetV2, mobilenetV3Large, mobilenetV3Small, efficientnetB0, plainnet];

const REGISTRY = new Map<string, ModelEntry>(ENTRIES.map((e) => [e.name, e]));

/** Registered architecture names. */
export function modelNames(): string[] {
  return [...REGISTRY.keys()];
}

/** Looks an architecture up by name; undefined when unknown. */
export function getModel(name: string): ModelEntry | undefined {
  return REGISTRY.get(name);
}

/** Picks the stem: the small one for inputs under 64 px unless the config says otherwise. */
export function resolveStem(stem: 'auto' | 'imagenet' | 'small', size: number): 'imagenet' | 'small' {
  if (stem !== 'auto') return stem;
  return size >= 64 ? 'imagenet' : 'small';
}
