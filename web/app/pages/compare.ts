import { runsOverlay } from '../../charts/index.ts';
import { api } from '../api.ts';
import { draw } from '../chart.ts';
import { h, mount } from '../dom.ts';
import { num } from '../format.ts';
import { projectPath, setQuery, type View } from '../router.ts';
import { loadMetricSummaries, loadSeries } from '../series.ts';
import type { Run } from '../types.ts';
import { lossKeys, type RunEvaluations } from './run.ts';

const MAX_RUNS = 8;

/** Runs side by side: params and latest metrics (optionally only what differs), overlaid losses. */
export async function comparePage({ root, params, query: q }: View) {
  const project = params.project!;
  const ids = (q.get('runs') ?? '').split(',').filter(Boolean).slice(0, MAX_RUNS);
  const onlyDiff = q.get('diff') !== 'all';
  if (ids.length < 2) {
    mount(
      root,
      h('h1', null, 'Compare'),
      h(
        'div',
        { class: 'empty' },
        'Tick two or more runs on the ',
        h('a', { href: projectPath(project, 'runs') }, 'runs page'),
        ' or the ',
        h('a', { href: projectPath(project) }, 'leaderboard'),
        ' to compare them.',
      ),
    );
    return;
  }
  const runs = await Promise.all(ids.map((id) => api<Run>(`/runs/${id}`)));
  const summaries = await Promise.all(ids.map((id) => loadMetricSummaries(id)));
  const evals = await Promise.all(ids.map((id) => api<RunEvaluations>(`/runs/${id}/evaluations`)));

  const rows: [string, string[]][] = [];
  const add = (label: string, values: string[]) => {
    if (onlyDiff && new Set(values).size <= 1) return;
    rows.push([label, values]);
  };
  add(
    'status',
    runs.map((r) => r.status),
  );
  add(
    'trainer',
    runs.map((r) => r.plugin ?? 'external'),
  );
  for (const k of [...new Set(runs.flatMap((r) => Object.keys(r.params)))].sort())
    add(
      `params.${k}`,
      runs.map((r) => r.params[k] ?? ''),
    );
  for (const k of [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort())
    add(
      `metrics.${k}`,
      runs.map((r) => {
        const v = r.metrics[k]?.value;
        return v === undefined ? '' : typeof v === 'number' ? num(v, 4) : v;
      }),
    );
  // The latest finished evaluation of each suite: what the run ended at.
  const suites = [...new Set(evals.flatMap((e) => e.evaluations.map((x) => x.suite)))].sort();
  for (const s of suites)
    add(
      `eval.${s}`,
      evals.map((e) => {
        const last = e.evaluations.find((x) => x.suite === s && x.status === 'finished');
        const agg = last?.aggregates?.[last.metric];
        return agg ? num(agg.value) : '';
      }),
    );

  const losses = await Promise.all(
    ids.map(async (id, i) => {
      const key = lossKeys(summaries[i]!.map((m) => m.key)).train;
      return key
        ? (await loadSeries(id, key, {}, 500)).points.map((p) => ({ ...p, run: runs[i]!.name }))
        : [];
    }),
  );
  const chartEl = h('div', { class: 'chart', 'data-testid': 'compare-chart' });
  mount(
    root,
    h('h1', null, `Compare ${runs.length} runs`),
    h(
      'div',
      { class: 'controls' },
      h(
        'label',
        null,
        h('input', {
          type: 'checkbox',
          name: 'diff',
          checked: onlyDiff,
          onchange: (e: Event) =>
            setQuery({ diff: (e.target as HTMLInputElement).checked ? null : 'all' }, true),
        }),
        ' differences only',
      ),
    ),
    h(
      'table',
      { class: 'grid compare', 'data-testid': 'compare-table' },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          h('th', null, ''),
          runs.map((r) =>
            h('th', null, h('a', { href: projectPath(project, 'runs', r.id) }, r.name)),
          ),
        ),
      ),
      h(
        'tbody',
        null,
        rows.length
          ? rows.map(([label, values]) =>
              h(
                'tr',
                { class: new Set(values).size > 1 ? 'differs' : '' },
                h('th', null, label),
                values.map((v) => h('td', null, v)),
              ),
            )
          : h('tr', null, h('td', { colspan: runs.length + 1, class: 'dim' }, 'No differences.')),
      ),
    ),
    evalDiffLinks(project, runs, evals),
    h('h2', null, 'Training loss, overlaid'),
    chartEl,
  );
  await draw(chartEl, runsOverlay({ points: losses.flat(), title: 'training loss' }));
}

/** For the first two runs: a per-case diff of their last evaluations on each shared suite. */
function evalDiffLinks(project: string, runs: Run[], evals: RunEvaluations[]) {
  const [a, b] = evals;
  const links = (a?.evaluations ?? []).flatMap((ea) => {
    if (ea.status !== 'finished') return [];
    const eb = b?.evaluations.find(
      (x) => x.suite === ea.suite && x.suiteVersion === ea.suiteVersion && x.status === 'finished',
    );
    if (!eb || a!.evaluations.find((x) => x.suite === ea.suite && x.status === 'finished') !== ea)
      return [];
    return [
      h(
        'a',
        {
          class: 'button secondary',
          href: projectPath(project, 'evaluations', ea.id, 'diff', eb.id),
        },
        `${ea.suite}: cases ${runs[0]!.name} → ${runs[1]!.name}`,
      ),
    ];
  });
  return links.length
    ? h(
        'div',
        { class: 'selection', 'data-testid': 'eval-diff-links' },
        h('span', { class: 'dim' }, 'Per-case diffs: '),
        links,
      )
    : null;
}
