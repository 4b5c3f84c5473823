/** The config checks that need the registries, shared by every command that loads a config (the schema cannot know the registries). */
import { checkActivationName } from '../activations/registry.js';
import type { ConfigIssue } from '../config/load.js';
import { DETECTION_DATASETS, type Config } from '../config/schema.js';
import { detectorBackbones } from '../models/detectors.js';
import { getModel, modelNames } from '../models/registry.js';

/** Registry checks the schema cannot express: the architecture and the activation name. */
export function registryChecks(cfg: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (!getModel(cfg.model.arch)) {
    issues.push({ path: ['model', 'arch'], message: `unknown architecture '${cfg.model.arch}'; choose one of: ${modelNames().join(', ')}` });
  }
  issues.push(...checkActivationName(cfg.activation));
  const detectionData = (DETECTION_DATASETS as readonly string[]).includes(cfg.data.name);
  if (cfg.task === 'detection' && getModel(cfg.model.arch) && !detectorBackbones().includes(cfg.model.arch)) {
    issues.push({
      path: ['model', 'arch'],
      message: `'${cfg.model.arch}' has no detection backbone (C3-C5 features); choose one of: ${detectorBackbones().join(', ')}`,
    });
  }
  if (cfg.task === 'detection' && !detectionData) {
    issues.push({ path: ['data', 'name'], message: `task 'detection' reads a COCO-format dataset; choose one of: ${DETECTION_DATASETS.join(', ')}` });
  } else if (cfg.task !== 'detection' && detectionData) {
    issues.push({ path: ['task'], message: `data.name '${cfg.data.name}' is a detection dataset: set task: detection` });
  }
  return issues;
}
