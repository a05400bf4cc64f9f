import type { Artifact, ArtifactList } from '../schemas/artifacts.ts';
import type { Transport } from './transport.ts';

type Body = Uint8Array | string | Blob | ReadableStream<Uint8Array>;

/**
 * A run's artifacts. Uploads stream when given a ReadableStream; downloads return the raw
 * response so large files are never held in memory.
 *
 * @example
 * const artifacts = artifactsClient(transport);
 * await artifacts.upload(runId, 'eval/samples.jsonl', fs.readFileSync('samples.jsonl'));
 * const text = await (await artifacts.download(runId, 'eval/samples.jsonl')).text();
 */
export function artifactsClient(t: Transport) {
  return {
    /** Stores `body` at `path` (replacing what was there). */
    upload: async (runId: string, path: string, body: Body): Promise<Artifact> => {
      const res = await t.raw('PUT', `/runs/${runId}/artifacts`, {
        body: body as RequestInit['body'],
        headers: { 'content-type': 'application/octet-stream' },
        query: { path },
      });
      return (await res.json()) as Artifact;
    },
    /** The response of a download: `res.body` streams, `res.headers.get('etag')` is the sha256. */
    download: (runId: string, path: string) =>
      t.raw('GET', `/runs/${runId}/artifacts/content`, { query: { path } }),
    listPage: (runId: string, q: { prefix?: string; limit?: number; pageToken?: string } = {}) =>
      t.json<ArtifactList>('GET', `/runs/${runId}/artifacts`, undefined, q),
    /** Every artifact (under `prefix`), following the pages to the end. */
    async list(runId: string, q: { prefix?: string; pageSize?: number } = {}) {
      const out: Artifact[] = [];
      let pageToken: string | undefined;
      do {
        const page = await this.listPage(runId, { prefix: q.prefix, limit: q.pageSize, pageToken });
        out.push(...page.artifacts);
        pageToken = page.nextPageToken ?? undefined;
      } while (pageToken);
      return out;
    },
  };
}
