import type { Dataset, DatasetDetail, DatasetVersion } from '../schemas/datasets.ts';
import type { DatasetKind } from '../services/datasets-rows.ts';
import type { Transport } from './transport.ts';

const enc = encodeURIComponent;
type Body = Uint8Array | string | Blob | ReadableStream<Uint8Array>;

/**
 * Datasets of a project: JSONL uploads become immutable versions with a cleaning report.
 *
 * @example
 * const datasets = datasetsClient(transport);
 * const v = await datasets.upload('support', 'chat-sft', 'sft', fs.readFileSync('train.jsonl'));
 * console.log(v.version, v.cleaningReport.nearDuplicates.count);
 */
export function datasetsClient(t: Transport) {
  const base = (project: string | number, name?: string) =>
    `/projects/${enc(String(project))}/datasets${name === undefined ? '' : `/${enc(name)}`}`;
  return {
    /** Uploads a JSONL file; identical bytes return the existing version (`created` false). */
    upload: async (
      project: string | number,
      name: string,
      kind: DatasetKind | undefined,
      body: Body,
    ): Promise<DatasetVersion & { created: boolean }> => {
      const res = await t.raw('POST', `${base(project, name)}/versions`, {
        body: body as RequestInit['body'],
        headers: { 'content-type': 'application/x-ndjson' },
        query: { kind },
      });
      return { ...((await res.json()) as DatasetVersion), created: res.status === 201 };
    },
    list: async (project: string | number) =>
      (await t.json<{ datasets: Dataset[] }>('GET', base(project))).datasets,
    get: (project: string | number, name: string) =>
      t.json<DatasetDetail>('GET', base(project, name)),
    version: (project: string | number, name: string, version: number | 'latest' = 'latest') =>
      t.json<DatasetVersion>('GET', `${base(project, name)}/versions/${version}`),
    /** The raw response; `res.body` streams the JSONL exactly as uploaded. */
    download: (project: string | number, name: string, version: number | 'latest' = 'latest') =>
      t.raw('GET', `${base(project, name)}/versions/${version}/content`),
  };
}
