import { api, query } from '../api.ts';
import { h, mount } from '../dom.ts';
import { caseText, num } from '../format.ts';
import { setQuery, type View } from '../router.ts';
import type { Evaluation, Suite } from '../types.ts';

interface ListedEvaluation extends Evaluation {
  checkpoint?: { id: string; step: number | null; runId: string | null; runName: string | null };
}

interface Case {
  caseId: string;
  input: unknown;
  expected: unknown;
  output: string;
  scores: Record<string, number>;
  passed: boolean | null;
  humanRating: { mean: number; n: number } | null;
}

const PAGE = 10;
const label = (e: ListedEvaluation) =>
  `${e.checkpoint?.runName ?? 'base'}${e.checkpoint?.step != null ? ` @ step ${e.checkpoint.step}` : ''} · v${e.suiteVersion}`;

/**
 * Rate one evaluation's outputs 1–5 (they become its `human_rating` score), or rank two
 * evaluations' outputs of the same cases side by side (each choice is a preference record, the
 * raw material of reward models and DPO).
 */
export async function humanPage({ root, params, query: q }: View) {
  const project = params.project!;
  const p = encodeURIComponent(project);
  const { suites } = await api<{ suites: Suite[] }>(`/projects/${p}/suites`);
  const suite = q.get('suite') ?? suites.find((s) => s.active)?.name;
  if (!suite) {
    mount(
      root,
      h('h1', null, 'Human evaluation'),
      h(
        'div',
        { class: 'empty' },
        'Create a suite first: human ratings score the outputs of its evaluations.',
      ),
    );
    return;
  }
  const { evaluations } = await api<{ evaluations: ListedEvaluation[] }>(
    `/projects/${p}/evaluations${query({ suite, status: 'finished', limit: 200 })}`,
  );
  const mode = q.get('mode') === 'rank' ? 'rank' : 'rate';
  const a = evaluations.find((e) => e.id === q.get('a')) ?? evaluations[0];
  const b =
    evaluations.find((e) => e.id === q.get('b') && e.suiteVersion === a?.suiteVersion) ??
    evaluations.find((e) => e.id !== a?.id && e.suiteVersion === a?.suiteVersion);
  const pick = (
    name: 'a' | 'b',
    chosen: ListedEvaluation | undefined,
    options: ListedEvaluation[],
  ) =>
    h(
      'select',
      {
        name,
        onchange: (e: Event) =>
          setQuery({ [name]: (e.target as HTMLSelectElement).value, page: null }),
      },
      options.map((e) => h('option', { value: e.id, selected: e.id === chosen?.id }, label(e))),
    );
  const controls = h(
    'div',
    { class: 'controls' },
    h(
      'select',
      {
        name: 'suite',
        onchange: (e: Event) =>
          setQuery({ suite: (e.target as HTMLSelectElement).value, a: null, b: null, page: null }),
      },
      suites.map((s) => h('option', { value: s.name, selected: s.name === suite }, s.name)),
    ),
    h(
      'div',
      { class: 'toggle', role: 'group', 'aria-label': 'mode' },
      h(
        'button',
        { class: mode === 'rate' ? 'on' : '', onclick: () => setQuery({ mode: null }) },
        'rate 1–5',
      ),
      h(
        'button',
        { class: mode === 'rank' ? 'on' : '', onclick: () => setQuery({ mode: 'rank' }) },
        'rank two',
      ),
    ),
    a ? pick('a', a, evaluations) : null,
    mode === 'rank' && b
      ? pick(
          'b',
          b,
          evaluations.filter((e) => e.id !== a?.id && e.suiteVersion === a?.suiteVersion),
        )
      : null,
  );
  if (!a) {
    mount(
      root,
      h('h1', null, 'Human evaluation'),
      controls,
      h(
        'div',
        { class: 'empty' },
        `No finished evaluation of ${suite} yet: they appear as checkpoints are evaluated.`,
      ),
    );
    return;
  }
  const offset = Number(q.get('page') ?? 0);
  const casesOf = (id: string) =>
    api<{ cases: Case[] }>(`/evaluations/${id}/cases${query({ limit: 1000 })}`).then(
      (r) => r.cases,
    );
  if (mode === 'rank') {
    if (!b) {
      mount(
        root,
        h('h1', null, 'Human evaluation'),
        controls,
        h(
          'div',
          { class: 'empty' },
          'Ranking needs two finished evaluations of the same suite version.',
        ),
      );
      return;
    }
    const [ca, cb] = await Promise.all([casesOf(a.id), casesOf(b.id)]);
    const byId = new Map(cb.map((c) => [c.caseId, c]));
    const pairs = ca
      .filter((c) => byId.has(c.caseId) && byId.get(c.caseId)!.output !== c.output)
      .slice(offset, offset + PAGE);
    mount(
      root,
      h('h1', null, 'Human evaluation: which answer is better?'),
      controls,
      h(
        'p',
        { class: 'hint' },
        'Sides are shuffled per case so the model does not show. Each choice is recorded as a preference (chosen, rejected) of this project.',
      ),
      pairs.length
        ? h(
            'div',
            { class: 'rank-list', 'data-testid': 'rank-cases' },
            pairs.map((c, i) => rankCase(project, c, byId.get(c.caseId)!, (offset + i) % 2 === 1)),
          )
        : h('div', { class: 'empty' }, 'No case where the two outputs differ on this page.'),
      pager(offset, pairs.length),
      toPreferences(project, suite),
    );
    return;
  }
  const cases = (await casesOf(a.id)).slice(offset, offset + PAGE);
  const rating = a.aggregates?.human_rating;
  mount(
    root,
    h('h1', null, 'Human evaluation: rate the outputs'),
    controls,
    h(
      'p',
      { 'data-testid': 'human-score' },
      rating
        ? `human rating ${num(rating.value, 2)} (95% CI ${num(rating.low, 2)} – ${num(rating.high, 2)}, ${rating.n} cases rated)`
        : 'No ratings yet on this evaluation.',
    ),
    h(
      'div',
      { class: 'rate-list', 'data-testid': 'rate-cases' },
      cases.map((c) => rateCase(a.id, c)),
    ),
    pager(offset, cases.length),
    toPreferences(project, suite),
  );
}

/**
 * Ratings become preferences (a higher-rated output chosen over a lower-rated one of the same
 * case), and every preference recorded so far becomes a new version of a preference dataset:
 * what a reward model or DPO trains on.
 */
function toPreferences(project: string, suite: string) {
  const status = h('span', { class: 'dim', 'data-testid': 'preference-status' }, '');
  const name = h('input', {
    type: 'text',
    name: 'preference-dataset',
    value: `${suite}-preferences`,
    'aria-label': 'preference dataset name',
  });
  const p = encodeURIComponent(project);
  const run = (work: () => Promise<string>) => async () => {
    status.textContent = ' working…';
    try {
      status.textContent = ` ${await work()}`;
    } catch (err) {
      status.textContent = ` ${(err as Error).message}`;
    }
  };
  return h(
    'div',
    { class: 'controls' },
    h(
      'button',
      {
        class: 'secondary',
        onclick: run(async () => {
          const r = await api<{ recorded: number; alreadyRecorded: number }>(
            `/projects/${p}/human-ratings/preferences`,
            { method: 'POST', json: { suite } },
          );
          return `${r.recorded} preferences recorded from ratings (${r.alreadyRecorded} already were)`;
        }),
      },
      'Ratings → preferences',
    ),
    name,
    h(
      'button',
      {
        class: 'secondary',
        onclick: run(async () => {
          const v = await api<{ dataset: string; version: number; rowCount: number }>(
            `/projects/${p}/preferences/dataset`,
            { method: 'POST', json: { dataset: name.value } },
          );
          return `dataset ${v.dataset} v${v.version}: ${v.rowCount} rows`;
        }),
      },
      'Cut a preference dataset',
    ),
    status,
  );
}

function rateCase(evaluationId: string, c: Case) {
  const status = h(
    'span',
    { class: 'dim' },
    c.humanRating ? ` rated ${num(c.humanRating.mean, 1)} (${c.humanRating.n})` : '',
  );
  return h(
    'div',
    { class: 'case-card', 'data-case': c.caseId },
    h('div', { class: 'dim' }, c.caseId),
    h('pre', { class: 'prompt' }, caseText(c.input)),
    h(
      'div',
      { class: 'pair' },
      h('div', null, h('div', { class: 'label' }, 'output'), h('pre', null, c.output)),
      h(
        'div',
        null,
        h('div', { class: 'label' }, 'expected'),
        h('pre', null, caseText(c.expected)),
      ),
    ),
    h(
      'div',
      { class: 'rating', role: 'group', 'aria-label': `rate ${c.caseId}` },
      [1, 2, 3, 4, 5].map((r) =>
        h(
          'button',
          {
            class: c.humanRating && Math.round(c.humanRating.mean) === r ? 'on' : '',
            onclick: async (e: Event) => {
              const button = e.currentTarget as HTMLButtonElement;
              try {
                await api(
                  `/evaluations/${evaluationId}/cases/${encodeURIComponent(c.caseId)}/rating`,
                  { method: 'PUT', json: { rating: r } },
                );
                button
                  .parentElement!.querySelectorAll('button')
                  .forEach((x) => x.classList.toggle('on', x === button));
                status.textContent = ` saved: ${r}`;
              } catch (err) {
                status.textContent = ` ${(err as Error).message}`;
              }
            },
          },
          String(r),
        ),
      ),
      status,
    ),
  );
}

function rankCase(project: string, a: Case, b: Case, swap: boolean) {
  const [left, right] = swap ? [b, a] : [a, b];
  const status = h('span', { class: 'dim' }, '');
  const choose = (chosen: Case, rejected: Case) => async () => {
    try {
      await api('/preferences', {
        method: 'POST',
        json: {
          project,
          prompt: caseText(a.input),
          chosen: chosen.output,
          rejected: rejected.output,
        },
      });
      status.textContent = ' recorded';
    } catch (err) {
      status.textContent = ` ${(err as Error).message}`;
    }
  };
  return h(
    'div',
    { class: 'case-card', 'data-case': a.caseId },
    h('pre', { class: 'prompt' }, caseText(a.input)),
    h('div', { class: 'pair' }, h('pre', null, left.output), h('pre', null, right.output)),
    h(
      'div',
      { class: 'rating' },
      h('button', { onclick: choose(left, right) }, '← left is better'),
      h('button', { onclick: choose(right, left) }, 'right is better →'),
      status,
    ),
  );
}

function pager(offset: number, shown: number) {
  return h(
    'div',
    { class: 'selection' },
    offset > 0
      ? h(
          'button',
          {
            class: 'secondary',
            onclick: () => setQuery({ page: String(Math.max(0, offset - PAGE)) }),
          },
          '← previous',
        )
      : null,
    shown === PAGE
      ? h(
          'button',
          { class: 'secondary', onclick: () => setQuery({ page: String(offset + PAGE) }) },
          'next →',
        )
      : null,
  );
}
