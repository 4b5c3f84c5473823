/**
 * The config layout before activations owned their options (issue #10): PWLU's method settings in a top-level
 * `pwlu:` section, and an activation's options flat next to its name (`activation: {name: swish, trainable_beta:
 * true}`). These helpers move such keys to their place in `activation.<name>` and say what moved, so that the
 * loader can warn with the file line or `--set` entry while old configs and saved runs keep loading.
 */
import { isActivationName } from '../activations/options.js';

type Mapping = Record<string, unknown>;

/** One deprecated key path and where its value now lives. */
export interface Move {
  from: string[];
  to: string[];
}

/** What a migration did: the keys it moved, and those it could not because their new place is set too. */
export interface Migration {
  moves: Move[];
  /** Left in place: neither value can be chosen silently. */
  clashes: Move[];
}

/** Keys of the `activation` section that are not options of the chosen activation. */
const ACTIVATION_KEYS = new Set(['name', 'sites']);

/** Moves the old keys of a whole config (a file's contents) to their new place, in place. */
export function migrateConfig(data: Mapping): Migration {
  const act = data['activation'];
  const done: Migration = isMapping(act) ? migrateActivation(act, ['activation']) : { moves: [], clashes: [] };
  // With `activation` not a mapping there is nowhere to move to: the schema reports both keys.
  if (!Object.hasOwn(data, 'pwlu') || (act !== undefined && act !== null && !isMapping(act))) return done;
  const old = data['pwlu'];
  delete data['pwlu'];
  const section = isMapping(act) ? act : (data['activation'] = {});
  if (!isMapping(old)) {
    // An empty (null) or malformed section moves whole; the schema then judges it at its new path.
    const move = { from: ['pwlu'], to: ['activation', 'pwlu'] };
    if (old === null) done.moves.push(move);
    else (putNew(data, 'activation', 'pwlu', old) ? done.moves : done.clashes).push(move);
    return done;
  }
  for (const [key, value] of Object.entries(old)) {
    const move = { from: ['pwlu', key], to: ['activation', 'pwlu', key] };
    (putNew(section, 'pwlu', key, value) ? done.moves : done.clashes).push(move);
  }
  return done;
}

/**
 * The new path of a `--set` key given with an old path (`pwlu.n`, `activation.init_bound`), or null when it is
 * current. A flat option belongs to the activation named in `data` (the config as merged so far); as in
 * `migrateActivation`, a deeper path or a mapping value is taken for a (misspelt) section and left to the schema.
 */
export function migratedSetPath(path: readonly string[], value: unknown, data: Mapping): string[] | null {
  if (path[0] === 'pwlu') return ['activation', ...path];
  if (path[0] !== 'activation' || path.length !== 2 || isMapping(value) || ACTIVATION_KEYS.has(path[1]!) || isActivationName(path[1]!)) return null;
  const act = data['activation'];
  const name = isMapping(act) && typeof act['name'] === 'string' ? act['name'] : 'relu';
  return isActivationName(name) ? ['activation', name, ...path.slice(1)] : null;
}

/**
 * Moves flat options of an `activation` mapping (at `at`) into its chosen activation's section, in place. Only
 * non-mapping values move: a mapping there is more likely a misspelt section name, which the schema reports.
 */
export function migrateActivation(act: Mapping, at: string[]): Migration {
  const done: Migration = { moves: [], clashes: [] };
  const name = act['name'] === undefined ? 'relu' : act['name'];
  if (typeof name !== 'string' || !isActivationName(name)) return done; // the registry check reports the name
  for (const [key, value] of Object.entries(act)) {
    if (ACTIVATION_KEYS.has(key) || isActivationName(key) || isMapping(value)) continue;
    const move = { from: [...at, key], to: [...at, name, key] };
    if (putNew(act, name, key, value)) {
      delete act[key];
      done.moves.push(move);
    } else {
      done.clashes.push(move);
    }
  }
  return done;
}

/** Sets `parent[section][key]` unless it is set already (or the section is not a mapping); says whether it did. */
function putNew(parent: Mapping, section: string, key: string, value: unknown): boolean {
  if (parent[section] === undefined || parent[section] === null) parent[section] = {};
  const target = parent[section];
  if (!isMapping(target) || Object.hasOwn(target, key)) return false;
  target[key] = value;
  return true;
}

function isMapping(v: unknown): v is Mapping {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
