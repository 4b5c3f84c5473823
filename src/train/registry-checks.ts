/** The config checks that need the registries, shared by every command that loads a config (the schema cannot know the registries). */
import { checkActivationName } from '../activations/registry.js';
import type { ConfigIssue } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { getModel, modelNames } from '../models/registry.js';

/** Registry checks the schema cannot express: the architecture and the activation name. */
export function registryChecks(cfg: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (!getModel(cfg.model.arch)) {
    issues.push({ path: ['model', 'arch'], message: `unknown architecture '${cfg.model.arch}'; choose one of: ${modelNames().join(', ')}` });
  }
  issues.push(...checkActivationName(cfg.activation));
  return issues;
}
