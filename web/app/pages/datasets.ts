import { api } from '../api.ts';
import { h, mount } from '../dom.ts';
import { count, when } from '../format.ts';
import type { View } from '../router.ts';
import type { CleaningReport, Dataset, DatasetVersionSummary } from '../types.ts';

/** Datasets, their versions and each version's cleaning report. */
export async function datasetsPage({ root, params }: View) {
  const project = encodeURIComponent(params.project!);
  const { datasets } = await api<{ datasets: Dataset[] }>(`/projects/${project}/datasets`);
  if (!datasets.length) {
    mount(
      root,
      h('h1', null, 'Datasets'),
      h(
        'div',
        { class: 'empty', 'data-testid': 'empty-datasets' },
        h('h2', null, 'No datasets'),
        h(
          'p',
          null,
          'Upload JSONL (sft, preference or eval rows); each upload of new bytes is a new version with a cleaning report (empty rows, exact and near duplicates, length outliers):',
        ),
        h(
          'pre',
          null,
          `curl -X POST "localhost:4242/api/v1/projects/${params.project}/datasets/support-sft/versions?kind=sft" \\\n  -H "Authorization: Bearer $HELDOUT_TOKEN" -H "Content-Type: application/x-ndjson" --data-binary @train.jsonl`,
        ),
      ),
    );
    return;
  }
  const details = await Promise.all(
    datasets.map((d) =>
      api<Dataset & { versions: DatasetVersionSummary[] }>(
        `/projects/${project}/datasets/${encodeURIComponent(d.name)}`,
      ),
    ),
  );
  mount(
    root,
    h('h1', null, 'Datasets'),
    details.map((d) =>
      h(
        'section',
        { 'data-dataset': d.name },
        h('h2', null, d.name, h('span', { class: 'badge method' }, d.kind)),
        d.description && h('p', null, d.description),
        h(
          'table',
          { class: 'grid' },
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              h('th', null, 'Version'),
              h('th', { class: 'num' }, 'Rows'),
              h('th', { class: 'num' }, 'Size'),
              h('th', null, 'sha256'),
              h('th', null, 'Created'),
              h('th', null, 'Cleaning'),
            ),
          ),
          h(
            'tbody',
            null,
            d.versions.map((v) =>
              h(
                'tr',
                null,
                h('td', null, `v${v.version}`),
                h('td', { class: 'num' }, count(v.rowCount)),
                h('td', { class: 'num' }, `${count(v.sizeBytes)}B`),
                h('td', { class: 'dim mono' }, v.sha256.slice(0, 12)),
                h('td', { class: 'dim' }, when(v.createdAt)),
                h('td', null, cleaning(params.project!, d.name, v.version)),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

function cleaning(project: string, dataset: string, version: number) {
  const body = h('div', null, 'loading…');
  const details = h('details', null, h('summary', null, 'report'), body);
  details.addEventListener(
    'toggle',
    async () => {
      try {
        const v = await api<{ cleaningReport: CleaningReport }>(
          `/projects/${encodeURIComponent(project)}/datasets/${encodeURIComponent(dataset)}/versions/${version}`,
        );
        const r = v.cleaningReport;
        body.replaceChildren(
          h(
            'ul',
            null,
            h('li', null, `${r.rows} rows`),
            h('li', null, `${r.empty.count} empty`),
            h('li', null, `${r.exactDuplicates.count} exact duplicates`),
            h(
              'li',
              null,
              `${r.nearDuplicates.count} near duplicates (${r.nearDuplicates.method}, ≥ ${r.nearDuplicates.threshold})`,
            ),
            h(
              'li',
              null,
              `${r.lengthOutliers.count} length outliers (${r.lengthOutliers.rule}; median ${r.lengthOutliers.medianChars} chars)`,
            ),
          ),
        );
      } catch (err) {
        body.textContent = (err as Error).message;
      }
    },
    { once: true },
  );
  return details;
}
