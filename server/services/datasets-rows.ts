import { z } from 'zod';
import { datasetKind } from '../db/schema/enums.ts';
import { AppError } from '../http/errors.ts';

/** The kinds the database accepts, so the two lists cannot drift apart. */
export const datasetKinds = datasetKind.enumValues;
export type DatasetKind = (typeof datasetKinds)[number];

const typeName = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** A string field whose error reads "expected string, received number" or "required". */
const text = () =>
  z.string({
    error: (iss) =>
      iss.input === undefined ? 'required' : `expected string, received ${typeName(iss.input)}`,
  });

const evalId = () =>
  text().min(1, 'must not be empty').max(1000, 'must be at most 1000 characters');

const expected = z.union([text(), z.array(text())], {
  error: (iss) =>
    iss.input === undefined
      ? 'required'
      : `expected a string or an array of strings, received ${typeName(iss.input)}`,
});

/** The row shape of each kind; extra keys are allowed and kept in the stored file. */
export const rowSchemas = {
  text: z.object({ text: text() }),
  sft: z.object({ prompt: text(), response: text() }),
  // A pair, or a ranked list (best first) that trainers expand into every ordered pair.
  preference: z
    .object({
      prompt: text(),
      chosen: text().optional(),
      rejected: text().optional(),
      responses: z
        .array(text(), {
          error: (iss) => `expected an array of strings, received ${typeName(iss.input)}`,
        })
        .min(2, 'must rank at least 2 responses')
        .optional(),
    })
    .superRefine((row, ctx) => {
      if (row.responses) return;
      for (const field of ['chosen', 'rejected'] as const) {
        if (row[field] === undefined)
          ctx.addIssue({
            code: 'custom',
            path: [field],
            message: 'required (or give "responses", best first)',
          });
      }
    }),
  eval: z.object({
    id: evalId(),
    input: text(),
    expected,
    metadata: z
      .record(z.string(), z.unknown(), {
        error: (iss) => `expected an object, received ${typeName(iss.input)}`,
      })
      .optional(),
  }),
} satisfies Record<DatasetKind, z.ZodType>;

type Row<K extends DatasetKind> = z.infer<(typeof rowSchemas)[K]>;

/** The text a row is made of, in a fixed order, for the cleaning report's comparisons. */
export const textFields = {
  text: (r: Row<'text'>) => [r.text],
  sft: (r: Row<'sft'>) => [r.prompt, r.response],
  preference: (r: Row<'preference'>) => [r.prompt, ...(r.responses ?? [r.chosen!, r.rejected!])],
  eval: (r: Row<'eval'>) => [r.input, ...(Array.isArray(r.expected) ? r.expected : [r.expected])],
} satisfies { [K in DatasetKind]: (row: Row<K>) => string[] };

export interface RowError {
  line: number;
  field?: string;
  message: string;
}

// Enough to fix a file in one round trip, few enough that a wholly wrong file stops reading soon.
const MAX_ERRORS = 20;

/**
 * Validates a JSONL upload line by line as it streams: every row against its kind's schema, eval
 * ids unique, and at most `maxRows` rows. Collects the first errors, then stops the upload with
 * one 400 whose message names the first line and field (`line 17: response: expected string,
 * received number`) and whose details list them all.
 *
 * @example
 * const rows = new RowValidator('sft', 1000, (line, fields) => report.add(line, fields));
 * new LineSplitter((n, text) => rows.accept(n, text));
 */
export class RowValidator {
  rowCount = 0;
  readonly errors: RowError[] = [];
  private readonly evalIds = new Map<string, number>();

  constructor(
    readonly kind: DatasetKind,
    private readonly maxRows: number,
    private readonly onRow: (line: number, fields: string[]) => void,
  ) {}

  /** One line of the file; `text` undefined means it was not valid UTF-8. */
  accept(line: number, text: string | undefined): void {
    if (text === undefined) return this.fail({ line, message: 'not valid UTF-8' });
    // Blank lines (a trailing newline, spacing between blocks) are not rows; numbering still counts them.
    if (text.trim() === '') return;
    if (++this.rowCount > this.maxRows) {
      throw new AppError(
        413,
        'payload_too_large',
        `a dataset may hold at most ${this.maxRows} rows`,
        {
          maxRows: this.maxRows,
          line,
        },
      );
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return this.fail({ line, message: `malformed JSON (${(err as Error).message})` });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return this.fail({ line, message: `expected a JSON object, received ${typeName(value)}` });
    }
    const parsed = rowSchemas[this.kind].safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return this.fail({ line, field: issue.path.join('.'), message: issue.message });
    }
    if (this.kind === 'eval') {
      const id = (parsed.data as Row<'eval'>).id;
      const first = this.evalIds.get(id);
      if (first !== undefined) {
        return this.fail({ line, field: 'id', message: `duplicates the id on line ${first}` });
      }
      this.evalIds.set(id, line);
    }
    this.onRow(line, (textFields[this.kind] as (r: unknown) => string[])(parsed.data));
  }

  /** Throws the collected errors, if any; called when the whole file has been read. */
  end(): void {
    if (this.errors.length) this.throwErrors();
    if (this.rowCount === 0) {
      throw new AppError(400, 'validation_failed', 'the file holds no rows');
    }
  }

  private fail(error: RowError): void {
    this.errors.push(error);
    if (this.errors.length >= MAX_ERRORS) this.throwErrors();
  }

  private throwErrors(): never {
    const [first] = this.errors;
    const more = this.errors.length > 1 ? ` (and ${this.errors.length - 1} more in details)` : '';
    throw new AppError(400, 'validation_failed', `${formatRowError(first!)}${more}`, {
      errors: this.errors.map((e) => ({ ...e, message: formatRowError(e) })),
    });
  }
}

/**
 * @example
 * formatRowError({ line: 17, field: 'response', message: 'expected string, received number' });
 * // 'line 17: response: expected string, received number'
 */
export function formatRowError(e: RowError): string {
  return `line ${e.line}: ${e.field ? `${e.field}: ` : ''}${e.message}`;
}
