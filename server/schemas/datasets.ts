import { z } from '@hono/zod-openapi';
import { datasetKinds } from '../services/datasets-rows.ts';
import { limit, projectName, timestamp } from './common.ts';

export const datasetKind = z.enum(datasetKinds, {
  error: () => `must be one of ${datasetKinds.join(', ')}`,
});

export const datasetParams = z.object({
  project: z
    .string()
    .min(1)
    .max(100)
    .openapi({ param: { name: 'project', in: 'path' }, description: 'project id or name' }),
  name: projectName.openapi({ param: { name: 'name', in: 'path' }, example: 'support-sft' }),
});

export const versionParams = datasetParams.extend({
  version: z
    .string()
    .regex(/^(latest|[1-9][0-9]{0,8})$/, 'must be a version number or "latest"')
    .openapi({ param: { name: 'version', in: 'path' }, example: '3' }),
});

export const uploadQuery = z.object({
  kind: datasetKind.optional().openapi({
    param: { name: 'kind', in: 'query' },
    description: "row shape; required for a new dataset, must match an existing dataset's",
  }),
});

export const listDatasetsQuery = z.object({
  limit: limit(1000, 1000).openapi({ param: { name: 'limit', in: 'query' } }),
});

const lines = z.array(z.number().int());
const pairs = z.array(z.object({ line: z.number().int(), duplicateOf: z.number().int() }));

export const cleaningReport = z
  .object({
    rows: z.number().int(),
    empty: z.object({ count: z.number().int(), lines, truncated: z.boolean() }),
    exactDuplicates: z.object({ count: z.number().int(), rows: pairs, truncated: z.boolean() }),
    nearDuplicates: z.object({
      count: z.number().int(),
      threshold: z.number(),
      method: z.string(),
      rows: z.array(
        z.object({
          line: z.number().int(),
          duplicateOf: z.number().int(),
          similarity: z.number(),
        }),
      ),
      truncated: z.boolean(),
    }),
    lengthOutliers: z.object({
      count: z.number().int(),
      rule: z.string(),
      medianChars: z.number().int(),
      lowChars: z.number().int().nullable(),
      highChars: z.number().int().nullable(),
      rows: z.array(
        z.object({
          line: z.number().int(),
          chars: z.number().int(),
          side: z.enum(['short', 'long']),
        }),
      ),
      truncated: z.boolean(),
    }),
  })
  .openapi('CleaningReport', {
    description: 'line numbers are 1-based lines of the file; each list holds at most 100 entries',
  });

export const datasetVersionSummary = z
  .object({
    id: z
      .number()
      .int()
      .openapi({ description: 'what a run names in datasets[].datasetVersionId' }),
    version: z.number().int(),
    sha256: z.string(),
    sizeBytes: z.number().int(),
    rowCount: z.number().int(),
    createdAt: timestamp,
  })
  .openapi('DatasetVersionSummary');

export const datasetVersion = datasetVersionSummary
  .extend({
    project: z.string(),
    dataset: z.string(),
    kind: datasetKind,
    cleaningReport,
  })
  .openapi('DatasetVersion');

export const dataset = z
  .object({
    id: z.number().int(),
    name: z.string(),
    kind: datasetKind,
    description: z.string().nullable(),
    createdAt: timestamp,
    latestVersion: z.number().int().nullable(),
  })
  .openapi('Dataset');

export const datasetDetail = dataset
  .extend({ versions: z.array(datasetVersionSummary) })
  .openapi('DatasetDetail');

export const jsonlBody = z.string().openapi({
  type: 'string',
  format: 'binary',
  description: 'JSONL: one JSON object a line, in the shape of the kind',
});

export type CleaningReport = z.infer<typeof cleaningReport>;
export type Dataset = z.infer<typeof dataset>;
export type DatasetDetail = z.infer<typeof datasetDetail>;
export type DatasetVersion = z.infer<typeof datasetVersion>;
export type DatasetVersionSummary = z.infer<typeof datasetVersionSummary>;
