import type { CreatedToken, Project, TokenInfo } from '../schemas/projects.ts';
import type {
  LogMetrics,
  MetricBuckets,
  MetricHistory,
  MetricList,
  MetricSummary,
} from '../schemas/metrics.ts';
import type { CreateRun, Run, RunStatus, SearchRuns } from '../schemas/runs.ts';
import type { Transport } from './transport.ts';

const enc = encodeURIComponent;

export function projectsClient(t: Transport) {
  return {
    create: (body: { name: string; description?: string }) =>
      t.json<Project>('POST', '/projects', body),
    list: async () => (await t.json<{ projects: Project[] }>('GET', '/projects')).projects,
    get: (project: string | number) => t.json<Project>('GET', `/projects/${enc(String(project))}`),
    createToken: (
      project: string | number,
      body: { name: string; role: 'read' | 'write' | 'admin'; expiresAt?: string },
    ) => t.json<CreatedToken>('POST', `/projects/${enc(String(project))}/tokens`, body),
    listTokens: async (project: string | number) =>
      (await t.json<{ tokens: TokenInfo[] }>('GET', `/projects/${enc(String(project))}/tokens`))
        .tokens,
    revokeToken: (tokenId: number) => t.json<TokenInfo>('DELETE', `/tokens/${tokenId}`),
  };
}

export type SearchRunsInput = Partial<Omit<SearchRuns, 'orderBy'>> & {
  orderBy?: { field?: SearchRuns['orderBy']['field']; key?: string; direction?: 'asc' | 'desc' };
};

export function runsClient(t: Transport) {
  return {
    create: (project: string | number, body: CreateRun = {}) =>
      t.json<Run>('POST', `/projects/${enc(String(project))}/runs`, body),
    get: (runId: string) => t.json<Run>('GET', `/runs/${runId}`),
    update: (
      runId: string,
      body: {
        status?: RunStatus;
        name?: string;
        error?: string;
        backend?: string;
        device?: string;
      },
    ) => t.json<Run>('PATCH', `/runs/${runId}`, body),
    search: (project: string | number, body: SearchRunsInput = {}) =>
      t.json<{ runs: Run[]; nextPageToken: string | null }>(
        'POST',
        `/projects/${enc(String(project))}/runs/search`,
        body,
      ),
    logParams: (runId: string, params: Record<string, string>) =>
      t.json('POST', `/runs/${runId}/params`, { params }),
    setTags: (runId: string, tags: Record<string, string>) =>
      t.json('PUT', `/runs/${runId}/tags`, { tags }),
    deleteTag: (runId: string, key: string) =>
      t.json('DELETE', `/runs/${runId}/tags`, undefined, { key }),
  };
}

type HistoryWindow = { minStep?: number; maxStep?: number };

export function metricsClient(t: Transport) {
  return {
    /** Logs a batch all-or-nothing; NaN and infinities may be passed as numbers. */
    log: (
      runId: string,
      points: { key: string; value: number | string; step?: number; timestamp?: number }[],
    ) =>
      t.json<{ stored: number }>('POST', `/runs/${runId}/metrics`, {
        metrics: points.map((p) => ({
          ...p,
          value:
            typeof p.value === 'number' && !Number.isFinite(p.value) ? String(p.value) : p.value,
        })),
      } as LogMetrics),
    /** Every metric of the run (a run holds at most HELDOUT_MAX_METRIC_KEYS), page after page. */
    async list(runId: string) {
      const all: MetricSummary[] = [];
      let pageToken: string | undefined;
      do {
        const page = await t.json<MetricList>('GET', `/runs/${runId}/metrics`, undefined, {
          pageToken,
        });
        all.push(...page.metrics);
        pageToken = page.nextPageToken ?? undefined;
      } while (pageToken);
      return all;
    },
    historyPage: (
      runId: string,
      key: string,
      q: HistoryWindow & { afterStep?: number; limit?: number } = {},
    ) => t.json<MetricHistory>('GET', `/runs/${runId}/metric-history`, undefined, { key, ...q }),
    /** Every point of a metric, following the keyset pages to the end. */
    async history(runId: string, key: string, q: HistoryWindow & { pageSize?: number } = {}) {
      const all = {
        steps: [] as number[],
        values: [] as MetricHistory['values'],
        wallTimes: [] as number[],
      };
      let afterStep: number | undefined;
      for (;;) {
        const page = await this.historyPage(runId, key, {
          ...q,
          afterStep,
          limit: q.pageSize ?? 100_000,
        });
        all.steps.push(...page.steps);
        all.values.push(...page.values);
        all.wallTimes.push(...page.wallTimes);
        if (page.nextAfterStep === null) return { key, ...all };
        afterStep = page.nextAfterStep;
      }
    },
    downsample: (runId: string, key: string, buckets: number, q: HistoryWindow = {}) =>
      t.json<MetricBuckets>('GET', `/runs/${runId}/metric-history`, undefined, {
        key,
        buckets,
        ...q,
      }),
  };
}
