/**
 * Per-case assertions on a model output: each gives pass/fail (the input of McNemar) and a reason.
 * JSON Schema validation uses Ajv (draft-07, its default class).
 */
import { Ajv, type ValidateFunction } from 'ajv';

/** The assertion kinds. */
export type AssertionType = 'equals' | 'contains' | 'regex' | 'json-schema';

/** An assertion as stored in a suite version. */
export type Assertion =
  | { type: 'equals'; value: string; ignoreCase?: boolean; trim?: boolean }
  | { type: 'contains'; value: string; ignoreCase?: boolean }
  | { type: 'regex'; pattern: string; flags?: string }
  | { type: 'json-schema'; schema: object };

/** The outcome of one assertion on one output. */
export interface AssertionResult {
  pass: boolean;
  reason: string;
}

const ajv = new Ajv({ allErrors: true, strict: false });
const compiled = new WeakMap<object, ValidateFunction>();

function validatorFor(schema: object): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) {
    v = ajv.compile(schema);
    compiled.set(schema, v);
  }
  return v;
}

const HANDLERS = {
  equals: (output, a) => {
    const norm = (s: string) => {
      const t = a.trim === false ? s : s.trim();
      return a.ignoreCase ? t.toLowerCase() : t;
    };
    const pass = norm(output) === norm(a.value);
    return { pass, reason: pass ? 'equal' : `expected ${JSON.stringify(a.value)}` };
  },
  contains: (output, a) => {
    const pass = a.ignoreCase
      ? output.toLowerCase().includes(a.value.toLowerCase())
      : output.includes(a.value);
    return { pass, reason: pass ? 'contains' : `does not contain ${JSON.stringify(a.value)}` };
  },
  regex: (output, a) => {
    const pass = new RegExp(a.pattern, a.flags ?? 'u').test(output);
    return { pass, reason: pass ? 'matches' : `does not match /${a.pattern}/` };
  },
  'json-schema': (output, a) => {
    let value: unknown;
    try {
      value = JSON.parse(output);
    } catch (err) {
      return { pass: false, reason: `not JSON: ${(err as Error).message}` };
    }
    const validate = validatorFor(a.schema);
    const pass = validate(value);
    return { pass, reason: pass ? 'valid' : ajv.errorsText(validate.errors) };
  },
} satisfies {
  [K in AssertionType]: (output: string, a: Extract<Assertion, { type: K }>) => AssertionResult;
};

/**
 * Checks one output against one assertion.
 *
 * @example
 * checkAssertion('{"a": 1}', { type: 'json-schema', schema: { type: 'object', required: ['a'] } }).pass // true
 */
export function checkAssertion(output: string, assertion: Assertion): AssertionResult {
  const handler = HANDLERS[assertion.type] as (o: string, a: Assertion) => AssertionResult;
  if (!handler)
    throw new Error(
      `unknown assertion type ${assertion.type}; use ${Object.keys(HANDLERS).join(', ')}`,
    );
  return handler(output, assertion);
}
