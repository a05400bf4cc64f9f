import { leaderboardScores } from '../../charts/index.ts';
import { api, query } from '../api.ts';
import { draw, painted } from '../chart.ts';
import { h, mount } from '../dom.ts';
import { count, num, signed, tone } from '../format.ts';
import { projectPath, setQuery, type View } from '../router.ts';
import { windowedRows } from '../windowed.ts';
import type { Leaderboard, LeaderboardRow } from '../types.ts';

// Matches `tr.fixed` in styles.css: windowed rendering needs every row the same height.
const ROW_HEIGHT = 44;
const METHODS = ['full', 'lora', 'peft', 'peft:ia3', 'rlhf', 'base', 'external'];
// Optional columns; the chooser's unticked ones go into `hide=` in the URL.
const COLUMNS = [
  'method',
  'base',
  'average',
  'champion',
  'retention',
  'verdict',
  'served',
  'params',
  'datasets',
];

function versionLabel(r: LeaderboardRow) {
  return r.model ? `${r.model} v${r.version}` : (r.checkpointName ?? r.checkpointId.slice(0, 8));
}

export async function leaderboardPage({ root, params, query: q, signal }: View) {
  const project = params.project!;
  const filters = {
    sort: q.get('sort') ?? 'average',
    method: q.get('method'),
    search: q.get('search'),
    base: q.get('base'),
    dataset: q.get('dataset'),
    gate: q.get('gate'),
    include: q.get('include'),
    pageToken: q.get('page'),
    limit: Number(q.get('limit') ?? 100),
  };
  const normalised = q.get('scores') === 'normalised';
  const hidden = new Set((q.get('hide') ?? '').split(',').filter(Boolean));
  const selected = new Set((q.get('sel') ?? '').split(',').filter(Boolean));
  const champion = q.get('champion') ?? 'production';
  const board = await api<Leaderboard>(
    `/projects/${encodeURIComponent(project)}/leaderboard${query(filters)}`,
  );

  const controls = h(
    'div',
    { class: 'controls' },
    h('input', {
      type: 'search',
      name: 'search',
      placeholder: 'search models',
      value: filters.search ?? '',
      oninput: (e: Event) =>
        setQuery({ search: (e.target as HTMLInputElement).value, page: null }, true),
    }),
    select('method', 'any method', METHODS, filters.method),
    select('gate', 'any verdict', ['pass', 'fail', 'no_data', 'none'], filters.gate),
    textFilter('base', 'base model', filters.base),
    textFilter('dataset', 'dataset[@version]', filters.dataset),
    h(
      'label',
      null,
      h('input', {
        type: 'checkbox',
        name: 'include',
        checked: filters.include === 'checkpoints',
        onchange: (e: Event) =>
          setQuery({ include: (e.target as HTMLInputElement).checked ? 'checkpoints' : null }),
      }),
      ' unregistered checkpoints',
    ),
    h(
      'div',
      { class: 'toggle', role: 'group', 'aria-label': 'scores' },
      h(
        'button',
        { class: normalised ? '' : 'on', onclick: () => setQuery({ scores: null }) },
        'raw',
      ),
      h(
        'button',
        { class: normalised ? 'on' : '', onclick: () => setQuery({ scores: 'normalised' }) },
        'normalised',
      ),
    ),
    columnChooser(hidden),
  );

  if (!board.suites.length) {
    mount(
      root,
      h('h1', null, 'Leaderboard'),
      h(
        'div',
        { class: 'empty', 'data-testid': 'empty-leaderboard' },
        h('h2', null, 'No active suites'),
        h(
          'p',
          null,
          'The leaderboard ranks checkpoints on regression suites. Upload an eval dataset, then create a target suite and a retention suite for the general skills the fine-tune must keep:',
        ),
        h(
          'pre',
          null,
          `POST /api/v1/projects/${project}/suites {"name": "domain-qa", "purpose": "target"}\nPOST /api/v1/projects/${project}/suites/domain-qa/versions {"datasetVersionId": …, "metrics": ["exact_match"]}`,
        ),
        h('p', null, 'Every checkpoint registered after that is evaluated on them automatically.'),
      ),
    );
    return;
  }

  const championRow = board.rows.find((r) => r.aliases.includes(champion));
  const show = (c: string) => !hidden.has(c);
  const head = h(
    'tr',
    null,
    h('th', null, ''),
    h('th', { title: 'rank (and the worst rank its confidence intervals allow)' }, 'Rank'),
    h('th', null, 'Model'),
    show('method') && h('th', null, 'Method'),
    show('base') && h('th', null, 'Base'),
    board.suites.map((s) =>
      h(
        'th',
        {
          class: `num sortable ${board.sort === `suite:${s.name}` ? 'sorted' : ''}`,
          title: `${s.purpose} · ${s.metric} · v${s.version}`,
        },
        h('a', { href: '#', onclick: sortBy(`suite:${s.name}`) }, s.name),
        h('div', { class: `purpose ${s.purpose}` }, s.purpose),
      ),
    ),
    show('average') &&
      h(
        'th',
        {
          class: `num sortable ${board.sort === 'average' ? 'sorted' : ''}`,
          title: 'mean of min-max normalised scores',
        },
        h('a', { href: '#', onclick: sortBy('average') }, 'Average'),
      ),
    show('champion') &&
      h('th', { class: 'num', title: `mean delta vs the model at @${champion}` }, `Δ @${champion}`),
    show('retention') &&
      h('th', { class: 'num', title: 'mean delta vs base over retention suites' }, 'Retention'),
    show('verdict') && h('th', null, 'Gate'),
    show('served') &&
      h(
        'th',
        { class: 'num', title: "p95 latency over the version's latest 1000 answered requests" },
        'Served p95',
      ),
    show('params') && h('th', { class: 'num' }, 'Trainable'),
    show('datasets') && h('th', null, 'Datasets'),
  );

  const columnCount = head.children.length;
  const rowOf = (i: number) => {
    const r = board.rows[i]!;
    const key = r.checkpointId;
    const vsChampion =
      championRow && championRow !== r
        ? meanDelta(
            r,
            championRow,
            board.suites.map((s) => s.name),
          )
        : null;
    return h(
      'tr',
      {
        'data-checkpoint': key,
        'data-index': i,
        class: selected.has(key) ? 'fixed selected' : 'fixed',
      },
      h(
        'td',
        null,
        h('input', {
          type: 'checkbox',
          'aria-label': `select ${versionLabel(r)}`,
          checked: selected.has(key),
          onchange: () => {
            if (selected.has(key)) selected.delete(key);
            else selected.add(key);
            setQuery({ sel: [...selected].join(',') }, true);
          },
        }),
      ),
      h(
        'td',
        { class: 'num' },
        r.rank ?? '–',
        r.rankUpperBound && r.rankUpperBound !== r.rank
          ? h('span', { class: 'ub' }, ` ≤${r.rankUpperBound}`)
          : null,
      ),
      h(
        'td',
        { class: 'model' },
        r.runId
          ? h('a', { href: projectPath(project, 'runs', r.runId) }, versionLabel(r))
          : versionLabel(r),
        r.aliases.map((a) =>
          h('span', { class: `badge alias ${a === champion ? 'champion' : ''}` }, `@${a}`),
        ),
      ),
      show('method') && h('td', null, h('span', { class: 'badge method' }, r.method)),
      show('base') && h('td', { class: 'dim' }, r.base?.label ?? '–'),
      board.suites.map((s) => {
        const sc = r.scores[s.name];
        if (!sc) return h('td', { class: 'num dim' }, '–');
        return h(
          'td',
          {
            class: 'num score',
            title: `${num(sc.value)} (95% CI ${num(sc.low)} – ${num(sc.high)}), n=${sc.n}`,
          },
          normalised ? num(sc.normalised, 2) : num(sc.value),
          !normalised && h('span', { class: 'ci' }, ` ±${num((sc.high - sc.low) / 2, 2)}`),
          sc.delta !== null && h('div', { class: `delta ${tone(sc.delta)}` }, signed(sc.delta)),
        );
      }),
      show('average') && h('td', { class: 'num' }, r.average ? num(r.average.value, 3) : '–'),
      show('champion') &&
        h(
          'td',
          { class: `num ${tone(vsChampion)}` },
          championRow === r ? 'champion' : signed(vsChampion),
        ),
      show('retention') && h('td', { class: `num ${tone(r.retention)}` }, signed(r.retention)),
      show('verdict') &&
        h(
          'td',
          null,
          r.verdict
            ? h(
                'span',
                {
                  class: `badge verdict ${r.verdict.outcome}`,
                  title: `${r.verdict.gate} v${r.verdict.gateVersion}`,
                },
                r.verdict.outcome,
              )
            : h('span', { class: 'dim' }, '–'),
        ),
      show('served') && servedCell(r.serving),
      show('params') && h('td', { class: 'num' }, count(r.trainableParams)),
      show('datasets') && h('td', { class: 'dim' }, r.datasets.join(', ')),
    );
  };
  const body = h('tbody');
  windowedRows(body, board.rows.length, rowOf, {
    rowHeight: ROW_HEIGHT,
    columns: columnCount,
    signal,
  });

  const selectedRows = board.rows.filter((r) => selected.has(r.checkpointId));
  const runIds = [...new Set(selectedRows.map((r) => r.runId).filter((x): x is string => !!x))];
  const chart = h('div', { class: 'chart', 'data-testid': 'leaderboard-chart' });
  mount(
    root,
    h('h1', null, 'Leaderboard', h('span', { class: 'count' }, ` ${board.total} models`)),
    controls,
    h(
      'div',
      { class: 'selection' },
      h(
        'a',
        {
          class: `button ${runIds.length >= 2 ? '' : 'disabled'}`,
          href:
            runIds.length >= 2
              ? `${projectPath(project, 'compare')}?runs=${runIds.join(',')}`
              : '#',
          'data-testid': 'compare-selected',
        },
        `Compare ${selectedRows.length} selected`,
      ),
      selectedRows.length ? null : h('span', { class: 'hint' }, 'tick rows to compare their runs'),
    ),
    board.rows.length
      ? h(
          'table',
          { class: 'grid leaderboard', 'data-testid': 'leaderboard' },
          h('thead', null, head),
          body,
        )
      : h(
          'div',
          { class: 'empty' },
          h('h2', null, 'Nothing matches'),
          h(
            'p',
            null,
            'No evaluated model matches these filters; register a checkpoint or clear the filters.',
          ),
        ),
    board.nextPageToken &&
      h('a', { class: 'button', href: '#', onclick: page(board.nextPageToken) }, 'Next page'),
    h('h2', null, 'Scores with 95% confidence intervals'),
    chart,
  );
  await painted(root.querySelector('[data-testid="leaderboard"]'));
  const top = board.rows.slice(0, 20).flatMap((r) =>
    Object.entries(r.scores).map(([suite, s]) => ({
      label: versionLabel(r),
      suite,
      score: s.value,
      low: s.low,
      high: s.high,
    })),
  );
  if (top.length) await draw(chart, leaderboardScores({ versions: top }));
}

function servedCell(s: LeaderboardRow['serving']) {
  if (!s) return h('td', { class: 'num dim' }, '–');
  const rate = s.tokensPerSecond === undefined ? '' : `, ${num(s.tokensPerSecond, 1)} tokens/s`;
  return h(
    'td',
    {
      class: 'num',
      title: `${s.requests} answered requests; p50 ${num(s.p50Ms, 0)} ms${rate}`,
    },
    `${num(s.p95Ms, 0)} ms`,
  );
}

function meanDelta(r: LeaderboardRow, champion: LeaderboardRow, suites: string[]) {
  const deltas = suites
    .filter((s) => r.scores[s] && champion.scores[s])
    .map((s) => r.scores[s]!.value - champion.scores[s]!.value);
  return deltas.length ? deltas.reduce((a, b) => a + b, 0) / deltas.length : null;
}

function sortBy(sort: string) {
  return (e: Event) => {
    e.preventDefault();
    setQuery({ sort: sort === 'average' ? null : sort, page: null });
  };
}

function page(token: string) {
  return (e: Event) => {
    e.preventDefault();
    setQuery({ page: token });
  };
}

function select(name: string, any: string, options: string[], value: string | null) {
  return h(
    'select',
    {
      name,
      onchange: (e: Event) =>
        setQuery({ [name]: (e.target as HTMLSelectElement).value, page: null }),
    },
    h('option', { value: '' }, any),
    options.map((o) => h('option', { value: o, selected: o === value }, o)),
  );
}

function textFilter(name: string, placeholder: string, value: string | null) {
  return h('input', {
    type: 'text',
    name,
    placeholder,
    value: value ?? '',
    onchange: (e: Event) => setQuery({ [name]: (e.target as HTMLInputElement).value, page: null }),
  });
}

function columnChooser(hidden: Set<string>) {
  return h(
    'details',
    { class: 'columns' },
    h('summary', null, 'Columns'),
    COLUMNS.map((c) =>
      h(
        'label',
        null,
        h('input', {
          type: 'checkbox',
          checked: !hidden.has(c),
          onchange: () => {
            if (hidden.has(c)) hidden.delete(c);
            else hidden.add(c);
            setQuery({ hide: [...hidden].join(',') }, true);
          },
        }),
        ` ${c}`,
      ),
    ),
  );
}
