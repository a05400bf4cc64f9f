/** The parts of an OpenAPI 3.1 document (and of its JSON Schemas) that tests walk over. */
export interface Schema {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  format?: string;
  pattern?: string;
  minLength?: number;
  minimum?: number;
  exclusiveMinimum?: number;
  minItems?: number;
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
}

export interface Operation {
  parameters?: { in: string; name: string; required?: boolean; schema?: Schema }[];
  requestBody?: { content: Record<string, { schema?: Schema }> };
}

export interface OpenApiDoc {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

const STRING_CANDIDATES = ['sample', 'a'.repeat(64), 'x', 'A1', '2024-01-01T00:00:00.000Z'];

function resolve(doc: OpenApiDoc, schema: Schema): Schema {
  let s = schema;
  while (s.$ref) s = doc.components.schemas[s.$ref.split('/').pop()!] ?? {};
  return s;
}

function sampleString(s: Schema): string {
  if (s.format === 'uuid') return '00000000-0000-4000-8000-000000000000';
  if (s.format === 'date-time') return new Date(0).toISOString();
  const fits = (v: string) => {
    if (v.length < (s.minLength ?? 0)) return false;
    try {
      return !s.pattern || new RegExp(s.pattern, 'u').test(v);
    } catch {
      return true; // a pattern JavaScript cannot read: any candidate will do
    }
  };
  return STRING_CANDIDATES.find(fits) ?? 'x'.repeat(Math.max(1, s.minLength ?? 1));
}

/**
 * A small valid instance of `schema`: required properties only (every property with
 * `optional`), the first enum value or union branch, the least number allowed. `hints` overrides
 * values by property name (ids of real rows).
 *
 * @example
 * sample(doc, { $ref: '#/components/schemas/CreateModel' }, { name: 'bot' }); // { name: 'bot' }
 */
export function sample(
  doc: OpenApiDoc,
  schema: Schema,
  hints: Record<string, unknown> = {},
  opts: { optional?: boolean } = {},
  depth = 0,
): unknown {
  const s = resolve(doc, schema);
  if (depth > 8) return null;
  if (s.const !== undefined) return s.const;
  if (s.enum) return s.enum[0];
  if (s.default !== undefined) return s.default;
  const branch = s.oneOf ?? s.anyOf;
  if (branch) {
    const first = branch.find((b) => resolve(doc, b).type !== 'null') ?? branch[0]!;
    return sample(doc, first, hints, opts, depth + 1);
  }
  if (s.allOf)
    return Object.assign(
      {},
      ...s.allOf.map((part) => sample(doc, part, hints, opts, depth + 1) as object),
    );
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
  switch (type ?? (s.properties ? 'object' : undefined)) {
    case 'string':
      return sampleString(s);
    case 'integer':
    case 'number':
      return s.minimum ?? (s.exclusiveMinimum === undefined ? 1 : s.exclusiveMinimum + 1);
    case 'boolean':
      return false;
    case 'array':
      return Array.from({ length: s.minItems ?? 0 }, () =>
        sample(doc, s.items ?? {}, hints, opts, depth + 1),
      );
    case 'object':
      return Object.fromEntries(
        (opts.optional ? Object.keys(s.properties ?? {}) : (s.required ?? [])).map((key) => [
          key,
          key in hints
            ? hints[key]
            : sample(doc, s.properties?.[key] ?? {}, hints, opts, depth + 1),
        ]),
      );
    default:
      return {};
  }
}

/** The JSON body schema of an operation, if it takes one. */
export function jsonBodySchema(op: Operation | undefined): Schema | undefined {
  return op?.requestBody?.content['application/json']?.schema;
}

/** The doc's path for a Hono route path under /api/v1: `/runs/:runId` -> `/runs/{runId}`. */
export function docPath(honoPath: string): string {
  return honoPath.replace(/^\/api\/v1/, '').replace(/:(\w+)(\{[^}]*\})?/g, '{$1}');
}
