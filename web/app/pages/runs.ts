import { api } from '../api.ts';
import { h, mount } from '../dom.ts';
import { num, when } from '../format.ts';
import { projectPath, setQuery, type View } from '../router.ts';
import { parseRunFilter, type RunSearch } from '../run-filter.ts';
import type { Run } from '../types.ts';

const MAX_COLUMNS = 10;

export async function runsPage({ root, params, query: q }: View) {
  const project = params.project!;
  const filterText = q.get('filter') ?? '';
  const sort = q.get('sort') ?? 'createdAt';
  const direction = q.get('dir') === 'asc' ? 'asc' : 'desc';
  let search: RunSearch = {};
  let filterError: string | null = null;
  try {
    search = parseRunFilter(filterText);
  } catch (err) {
    filterError = (err as Error).message;
  }
  const [field, key] = sort.includes('.')
    ? (sort.split(/\.(.*)/s) as [string, string])
    : [sort, undefined];
  const orderBy = {
    field: field === 'metrics' ? 'metric' : field === 'params' ? 'param' : field,
    ...(key ? { key } : {}),
    direction,
  };
  const { runs, nextPageToken } = await api<{ runs: Run[]; nextPageToken: string | null }>(
    `/projects/${encodeURIComponent(project)}/runs/search`,
    {
      method: 'POST',
      json: { ...search, orderBy, limit: 200, pageToken: q.get('page') ?? undefined },
    },
  );
  const selected = new Set((q.get('sel') ?? '').split(',').filter(Boolean));
  const paramKeys = topKeys(runs.map((r) => Object.keys(r.params)));
  const metricKeys = topKeys(runs.map((r) => Object.keys(r.metrics)));

  const filterBox = h(
    'form',
    {
      class: 'controls',
      onsubmit: (e: Event) => {
        e.preventDefault();
        const value = (e.target as HTMLFormElement).querySelector('input')!.value;
        setQuery({ filter: value, page: null });
      },
    },
    h('input', {
      type: 'search',
      name: 'filter',
      class: 'wide',
      placeholder: "metrics.val_loss < 1.5 and params.method = 'lora' and status = finished",
      value: filterText,
    }),
    h('button', { type: 'submit' }, 'Filter'),
  );
  const header = (label: string, sortKey: string, cls = '') =>
    h(
      'th',
      { class: `sortable ${cls} ${sort === sortKey ? 'sorted' : ''}` },
      h(
        'a',
        {
          href: '#',
          onclick: (e: Event) => {
            e.preventDefault();
            setQuery({
              sort: sortKey,
              dir: sort === sortKey && direction === 'desc' ? 'asc' : null,
            });
          },
        },
        label,
        sort === sortKey ? (direction === 'desc' ? ' ▾' : ' ▴') : '',
      ),
    );
  const ids = [...selected];
  mount(
    root,
    h(
      'h1',
      null,
      'Runs',
      h('span', { class: 'count' }, ` ${runs.length}${nextPageToken ? '+' : ''}`),
    ),
    filterBox,
    filterError && h('div', { class: 'error', role: 'alert' }, filterError),
    h(
      'div',
      { class: 'selection' },
      h(
        'a',
        {
          class: `button ${ids.length >= 2 ? '' : 'disabled'}`,
          href: ids.length >= 2 ? `${projectPath(project, 'compare')}?runs=${ids.join(',')}` : '#',
          'data-testid': 'compare-runs',
        },
        `Compare ${ids.length} selected`,
      ),
    ),
    runs.length
      ? h(
          'table',
          { class: 'grid', 'data-testid': 'runs' },
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              h('th', null, ''),
              header('Run', 'name'),
              h('th', null, 'Status'),
              h('th', null, 'Trainer'),
              header('Created', 'createdAt'),
              paramKeys.map((k) => header(k, `params.${k}`, 'param')),
              metricKeys.map((k) => header(k, `metrics.${k}`, 'num metric')),
            ),
          ),
          h(
            'tbody',
            null,
            runs.map((r) =>
              h(
                'tr',
                { 'data-run': r.id },
                h(
                  'td',
                  null,
                  h('input', {
                    type: 'checkbox',
                    'aria-label': `select ${r.name}`,
                    checked: selected.has(r.id),
                    onchange: () => {
                      if (selected.has(r.id)) selected.delete(r.id);
                      else selected.add(r.id);
                      setQuery({ sel: [...selected].join(',') }, true);
                    },
                  }),
                ),
                h('td', null, h('a', { href: projectPath(project, 'runs', r.id) }, r.name)),
                h('td', null, h('span', { class: `badge status ${r.status}` }, r.status)),
                h('td', { class: 'dim' }, r.plugin ?? 'external'),
                h('td', { class: 'dim' }, when(r.createdAt)),
                paramKeys.map((k) => h('td', { class: 'param' }, r.params[k] ?? '')),
                metricKeys.map((k) => {
                  const m = r.metrics[k];
                  return h(
                    'td',
                    { class: 'num' },
                    m ? (typeof m.value === 'number' ? num(m.value, 4) : m.value) : '',
                  );
                }),
              ),
            ),
          ),
        )
      : h(
          'div',
          { class: 'empty', 'data-testid': 'empty-runs' },
          h('h2', null, filterText ? 'No run matches' : 'No runs yet'),
          h(
            'p',
            null,
            filterText
              ? 'Loosen the filter.'
              : 'Start a fine-tune with POST /api/v1/projects/{project}/runs {"plugin": "lora", …}, or log runs from your own training script (or an MLflow client) to this server.',
          ),
        ),
    nextPageToken &&
      h(
        'a',
        {
          class: 'button',
          href: '#',
          onclick: (e: Event) => {
            e.preventDefault();
            setQuery({ page: nextPageToken });
          },
        },
        'Next page',
      ),
  );
}

/** The most common keys first, so a handful of columns covers most runs. */
function topKeys(lists: string[][]) {
  const counts = new Map<string, number>();
  for (const list of lists) for (const k of list) counts.set(k, (counts.get(k) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, MAX_COLUMNS)
    .map(([k]) => k)
    .sort();
}
