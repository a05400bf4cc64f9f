import { api, query } from '../api.ts';
import { h, mount } from '../dom.ts';
import { caseText, num, signed } from '../format.ts';
import { projectPath, setQuery, type View } from '../router.ts';

interface Side {
  id: string;
  checkpointId: string;
  runId: string | null;
  runName: string | null;
  step: number | null;
}

interface Diff {
  a: Side;
  b: Side;
  suite: string;
  suiteVersion: number;
  metric: string;
  summary: {
    cases: number;
    passToFail: number;
    failToPass: number;
    bothPass: number;
    bothFail: number;
    meanDelta: number | null;
  };
  cases: {
    caseId: string;
    input: unknown;
    expected: unknown;
    outputA: string;
    outputB: string;
    scoreA: number | null;
    scoreB: number | null;
    delta: number | null;
    change: 'pass_to_fail' | 'fail_to_pass' | 'same';
  }[];
}

const CHANGE_LABEL = {
  pass_to_fail: 'pass → fail',
  fail_to_pass: 'fail → pass',
  same: 'same',
} as const;

const side = (project: string, s: Side) =>
  s.runId
    ? h(
        'a',
        { href: projectPath(project, 'runs', s.runId) },
        `${s.runName ?? s.runId.slice(0, 8)} @ step ${s.step ?? '–'}`,
      )
    : `base ${s.checkpointId.slice(0, 8)}`;

/** Two evaluations of one suite version, case by case: which cases flipped and by how much. */
export async function evalDiffPage({ root, params, query: q }: View) {
  const project = params.project!;
  const show = q.get('show') ?? 'changed';
  const diff = await api<Diff>(
    `/evaluations/${params.a}/diff/${params.b}${query({ limit: 1000 })}`,
  );
  const s = diff.summary;
  const cases = diff.cases.filter((c) =>
    show === 'all'
      ? true
      : show === 'flips'
        ? c.change !== 'same'
        : c.change !== 'same' || (c.delta ?? 0) !== 0,
  );
  mount(
    root,
    h('h1', null, `${diff.suite} v${diff.suiteVersion}: case by case`),
    h(
      'p',
      null,
      'A: ',
      side(project, diff.a),
      ' → B: ',
      side(project, diff.b),
      h('span', { class: 'dim' }, ` · metric ${diff.metric}`),
    ),
    h(
      'div',
      { class: 'summary', 'data-testid': 'diff-summary' },
      stat('cases', s.cases),
      stat('pass → fail', s.passToFail, s.passToFail ? 'bad' : ''),
      stat('fail → pass', s.failToPass, s.failToPass ? 'good' : ''),
      stat('both pass', s.bothPass),
      stat('both fail', s.bothFail),
      stat(
        `mean Δ ${diff.metric}`,
        signed(s.meanDelta),
        s.meanDelta && s.meanDelta < 0 ? 'bad' : s.meanDelta ? 'good' : '',
      ),
    ),
    h(
      'div',
      { class: 'toggle', role: 'group', 'aria-label': 'cases shown' },
      (['flips', 'changed', 'all'] as const).map((v) =>
        h(
          'button',
          {
            class: show === v ? 'on' : '',
            onclick: () => setQuery({ show: v === 'changed' ? null : v }, true),
          },
          v,
        ),
      ),
    ),
    cases.length
      ? h(
          'table',
          { class: 'grid cases', 'data-testid': 'diff-cases' },
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              h('th', null, 'Case'),
              h('th', null, 'Change'),
              h('th', null, 'Input'),
              h('th', null, 'Expected'),
              h('th', null, 'Output A'),
              h('th', null, 'Output B'),
              h('th', { class: 'num' }, 'A'),
              h('th', { class: 'num' }, 'B'),
              h('th', { class: 'num' }, 'Δ'),
            ),
          ),
          h(
            'tbody',
            null,
            cases.map((c) =>
              h(
                'tr',
                { class: c.change },
                h('td', { class: 'dim' }, c.caseId),
                h(
                  'td',
                  null,
                  h('span', { class: `badge change ${c.change}` }, CHANGE_LABEL[c.change]),
                ),
                h('td', null, h('pre', null, caseText(c.input))),
                h('td', null, h('pre', null, caseText(c.expected))),
                h('td', null, h('pre', null, c.outputA)),
                h('td', null, h('pre', null, c.outputB)),
                h('td', { class: 'num' }, num(c.scoreA)),
                h('td', { class: 'num' }, num(c.scoreB)),
                h(
                  'td',
                  { class: `num ${c.delta && c.delta < 0 ? 'bad' : c.delta ? 'good' : ''}` },
                  signed(c.delta),
                ),
              ),
            ),
          ),
        )
      : h('div', { class: 'empty' }, 'No case changed.'),
  );
}

function stat(label: string, value: number | string, cls = '') {
  return h(
    'div',
    { class: `stat ${cls}` },
    h('div', { class: 'value' }, String(value)),
    h('div', { class: 'label' }, label),
  );
}
