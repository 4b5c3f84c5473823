/** Reads the structure of `ConfigSchema` at run time: sibling keys for suggestions, and the key listing for docs. */
import { stringify } from 'yaml';
import { z } from 'zod';
import { formatTable } from '../util/table.js';
import { ConfigSchema } from './schema.js';

type Schema = z.core.$ZodType;

/** Strips default/optional/nullable wrappers; `nullable` reports whether null was allowed on the way. */
function unwrap(schema: Schema): { inner: Schema; nullable: boolean } {
  let cur = schema;
  let nullable = false;
  for (;;) {
    if (cur instanceof z.core.$ZodDefault || cur instanceof z.core.$ZodOptional || cur instanceof z.core.$ZodPrefault) {
      cur = cur._zod.def.innerType;
    } else if (cur instanceof z.core.$ZodPipe) {
      cur = cur._zod.def.in; // a transform after validation (e.g. filling the chosen activation's options)
    } else if (cur instanceof z.core.$ZodNullable) {
      nullable = true;
      cur = cur._zod.def.innerType;
    } else {
      return { inner: cur, nullable };
    }
  }
}

/** The object shape of a schema (after unwrapping), or null if it is not an object. */
function shapeOf(schema: Schema): Record<string, Schema> | null {
  const { inner } = unwrap(schema);
  return inner instanceof z.core.$ZodObject ? inner._zod.def.shape : null;
}

/** Walks the schema along a config path (array indices step into list elements); null when the path leaves it. */
export function schemaAt(path: readonly (string | number)[], root: Schema = ConfigSchema): Schema | null {
  let cur: Schema = root;
  for (const seg of path) {
    const { inner } = unwrap(cur);
    if (inner instanceof z.core.$ZodObject) {
      const next = Object.hasOwn(inner._zod.def.shape, String(seg)) ? inner._zod.def.shape[String(seg)] : undefined;
      if (next === undefined) return null;
      cur = next;
    } else if (inner instanceof z.core.$ZodArray && /^\d+$/.test(String(seg))) {
      cur = inner._zod.def.element;
    } else {
      return null;
    }
  }
  return cur;
}

/** The keys the schema allows in the mapping at `path`, so an unknown key can be matched against its siblings. */
export function keysAt(path: readonly (string | number)[]): string[] {
  const s = schemaAt(path);
  const shape = s === null ? null : shapeOf(s);
  return shape === null ? [] : Object.keys(shape);
}

/** Whether the schema wants an integer at `path`, so a type error can say "an integer" rather than "a number". */
export function isIntegerAt(path: readonly (string | number)[]): boolean {
  const s = schemaAt(path);
  if (s === null) return false;
  const { inner } = unwrap(s);
  return inner instanceof z.core.$ZodNumber && (inner._zod.def.checks ?? []).some((c) => c instanceof z.core.$ZodCheckNumberFormat);
}

/** Every dotted key path in the schema (mappings and leaves), for suggesting `train.lr` when `lr` is misplaced. */
export function allKeyPaths(): string[][] {
  const out: string[][] = [];
  const walk = (schema: Schema, prefix: string[]): void => {
    const shape = shapeOf(schema);
    if (shape === null) return;
    for (const [key, child] of Object.entries(shape)) {
      out.push([...prefix, key]);
      walk(child, [...prefix, key]);
    }
  };
  walk(ConfigSchema, []);
  return out;
}

/** A short type/constraint summary of a leaf schema, e.g. `int, > 0, <= 10000` or `sgd | adam`. */
function describeType(schema: Schema): string {
  const { inner, nullable } = unwrap(schema);
  let t: string;
  if (inner instanceof z.core.$ZodNumber) {
    const parts: string[] = [];
    let isInt = false;
    for (const check of inner._zod.def.checks ?? []) {
      if (check instanceof z.core.$ZodCheckNumberFormat) isInt = true;
      else if (check instanceof z.core.$ZodCheckGreaterThan) {
        parts.push(`${check._zod.def.inclusive ? '>=' : '>'} ${String(check._zod.def.value)}`);
      } else if (check instanceof z.core.$ZodCheckLessThan) {
        parts.push(`${check._zod.def.inclusive ? '<=' : '<'} ${String(check._zod.def.value)}`);
      } else if (check._zod.def.check === 'custom') {
        parts.push('custom check');
      }
    }
    t = [isInt ? 'int' : 'number', ...parts].join(', ');
  } else if (inner instanceof z.core.$ZodEnum) {
    t = Object.values(inner._zod.def.entries).map(String).join(' | ');
  } else if (inner instanceof z.core.$ZodLiteral) {
    t = inner._zod.def.values.map((v) => String(v)).join(' | ');
  } else if (inner instanceof z.core.$ZodBoolean) {
    t = 'true | false';
  } else if (inner instanceof z.core.$ZodString) {
    t = 'string';
  } else if (inner instanceof z.core.$ZodArray) {
    t = `list of ${describeType(inner._zod.def.element)}`;
  } else if (inner instanceof z.core.$ZodObject) {
    t = `{${Object.entries(inner._zod.def.shape)
      .map(([k, v]) => `${k}: ${describeType(v)}`)
      .join(', ')}}`;
  } else if (inner instanceof z.core.$ZodTuple) {
    t = `[${inner._zod.def.items.map((i) => describeType(i)).join(', ')}]`;
  } else if (inner instanceof z.core.$ZodUnion) {
    t = inner._zod.def.options.map((o) => describeType(o)).join(' | ');
  } else {
    t = inner._zod.def.type;
  }
  return nullable ? `${t} | null` : t;
}

/** Formats a default the way it would be written in a config file. */
function showDefault(value: unknown): string {
  return stringify(value, { collectionStyle: 'flow', lineWidth: 0 }).trim();
}

/** A listing of every config key with its default and allowed values, for `pwlu config --help`; derived from the schema. */
export function describeSchema(): string {
  const defaults: unknown = ConfigSchema.parse({});
  const rows: [string, string, string][] = [];
  const valueAt = (path: string[]): unknown => valueAtPath(defaults, path);
  const walk = (schema: Schema, prefix: string[]): void => {
    const shape = shapeOf(schema);
    if (shape === null) return;
    for (const [key, child] of Object.entries(shape)) {
      const path = [...prefix, key];
      // A section that is null by default (e.g. data.shards) is one row: its keys have no defaults of their own.
      if (shapeOf(child) !== null && valueAt(path) !== null) {
        walk(child, path);
      } else {
        // Options sections of activations not chosen by default are absent from the defaults: use the leaf's own.
        const own = z.safeParse(child, undefined);
        rows.push([path.join('.'), showDefault(valueAt(path) ?? (own.success ? own.data : undefined)), describeType(child)]);
      }
    }
  };
  walk(ConfigSchema, []);
  return formatTable([['key', 'default', 'allowed'], ...rows]).join('\n') + '\n';
}

/**
 * The value at a key path of a config or its plain data, dotted (`activation.pwlu.n`) or as segments (list indices as
 * numbers or digit strings); undefined where there is none. Only own keys count, so a key like `constructor` is absent.
 * One walk for bench sweeps, the report and config error messages, so they agree on what a path names.
 */
export function valueAtPath(data: unknown, path: string | readonly (string | number)[]): unknown {
  let cur = data;
  for (const seg of typeof path === 'string' ? path.split('.') : path) {
    if (Array.isArray(cur)) cur = typeof seg === 'number' || /^\d+$/.test(seg) ? (cur as unknown[])[Number(seg)] : undefined;
    else if (cur !== null && typeof cur === 'object') cur = Object.hasOwn(cur, String(seg)) ? (cur as Record<string, unknown>)[String(seg)] : undefined;
    else return undefined;
  }
  return cur;
}
