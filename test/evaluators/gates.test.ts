import { describe, expect, it } from 'vitest';
import {
  combineAll,
  combineAny,
  evaluateGate,
  gatePolicySchema,
  parseGatePolicy,
  renderJUnit,
  renderMarkdownSummary,
  servingWindows,
  type CaseResult,
  type GateInput,
  type GatePolicy,
  type Outcome,
  type SuiteEvidence,
} from '../../evaluators/gates/index.ts';

/** A suite whose i-th case scores `values[i]` on `metric` (ids c0, c1, ...). */
const suite = (
  name: string,
  values: number[],
  opts: { metric?: string; purpose?: SuiteEvidence['purpose']; passed?: (boolean | null)[] } = {},
): SuiteEvidence => ({
  suite: name,
  purpose: opts.purpose ?? 'target',
  cases: values.map(
    (v, i): CaseResult => ({
      id: `c${i}`,
      scores: { [opts.metric ?? 'em']: v },
      passed: opts.passed?.[i] ?? null,
    }),
  ),
});

const input = (candidate: SuiteEvidence[], extra: Partial<GateInput> = {}): GateInput => ({
  candidate,
  baselines: {},
  findings: [],
  ...extra,
});

const run = (policy: unknown, gateInput: GateInput) =>
  evaluateGate(gatePolicySchema.parse(policy), gateInput);

describe('threshold', () => {
  it('passes a value exactly on the boundary despite float error, and fails just below it', () => {
    // 0.1 + 0.2 = 0.30000000000000004 and mean(0.1, 0.4, 0.7) = 0.39999999999999997.
    const above = run(
      { kind: 'threshold', suite: 'qa', metric: 'em', max: 0.3 },
      input([suite('qa', [0.1 + 0.2])]),
    );
    expect(above.outcome).toBe('pass');
    const below = run(
      { kind: 'threshold', suite: 'qa', metric: 'em', min: 0.4 },
      input([suite('qa', [0.1, 0.4, 0.7])]),
    );
    expect(below.checks[0]!.observed).toBeLessThan(0.4);
    expect(below.outcome).toBe('pass');
    const clearlyBelow = run(
      { kind: 'threshold', suite: 'qa', metric: 'em', min: 0.4 },
      input([suite('qa', [0.1, 0.4, 0.69])]),
    );
    expect(clearlyBelow.outcome).toBe('fail');
    expect(clearlyBelow.checks[0]!.message).toMatch(/0\.3967.*≥ 0\.4/);
  });

  it('averages only the cases that have the metric', () => {
    const s = suite('qa', [1, 0]);
    s.cases.push({ id: 'other', scores: { f1: 0.2 }, passed: null });
    const v = run({ kind: 'threshold', suite: 'qa', metric: 'em', min: 0.5 }, input([s]));
    expect([v.outcome, v.checks[0]!.observed, v.checks[0]!.n]).toEqual(['pass', 0.5, 2]);
  });

  it('turns a missing metric, suite or zero cases into no_data, never a crash or a pass', () => {
    const policy = { kind: 'threshold', suite: 'qa', metric: 'bleu', min: 0 };
    const missingMetric = run(policy, input([suite('qa', [1, 1])]));
    expect(missingMetric.outcome).toBe('no_data');
    expect(missingMetric.checks[0]!.message).toMatch(/no 'bleu' score on 'qa'/);
    expect(run(policy, input([suite('other', [1])])).checks[0]!.message).toMatch(/no results/);
    expect(run(policy, input([suite('qa', [])])).checks[0]!.message).toMatch(/zero cases/);
    const nan = run(policy, input([suite('qa', [Number.NaN], { metric: 'bleu' })]));
    expect(nan.outcome).toBe('no_data');
  });
});

describe('change', () => {
  const change = (candidate: number[], base: number[], rule: Record<string, unknown>) =>
    run(
      { kind: 'change', baseline: 'base', suite: 'qa', metric: 'em', ...rule },
      input([suite('qa', candidate)], { baselines: { base: [suite('qa', base)] } }),
    );
  const higher = { direction: 'higher_is_better' };

  it('allows a drop of at most |minAbsoluteChange| (0.78 vs 0.8 with -0.02 is on the boundary)', () => {
    expect(change([0.78], [0.8], { ...higher, minAbsoluteChange: -0.02 }).outcome).toBe('pass');
    expect(change([0.77], [0.8], { ...higher, minAbsoluteChange: -0.02 }).outcome).toBe('fail');
    const lower = { direction: 'lower_is_better', minAbsoluteChange: 0.1 };
    expect(change([0.5], [0.6], lower).outcome).toBe('pass');
    expect(change([0.55], [0.6], lower).outcome).toBe('fail');
  });

  it('divides by |baseline|, so a regression from a negative baseline fails', () => {
    // Signed division would give (-3 - -2) / -2 = +50%: MLflow's MetricThreshold passes this.
    const worse = change([-3], [-2], { ...higher, minRelativeChange: -0.1 });
    expect(worse.outcome).toBe('fail');
    expect(worse.checks[0]!.message).toMatch(/-50%/);
    expect(change([-1.9], [-2], { ...higher, minRelativeChange: -0.1 }).outcome).toBe('pass');
    const lower = { direction: 'lower_is_better', minRelativeChange: 0 };
    expect(change([-1], [-2], lower).outcome).toBe('fail');
    expect(change([-3], [-2], lower).outcome).toBe('pass');
  });

  it('reports a relative criterion on a zero baseline as no_data, not Infinity', () => {
    const v = change([0.5], [0, 0], { ...higher, minRelativeChange: 0.1 });
    expect(v.outcome).toBe('no_data');
    expect(v.checks[0]!.message).toMatch(/relative change is undefined/);
    expect(JSON.stringify(v)).not.toMatch(/Infinity|NaN/);
    expect(change([0.5], [0], { ...higher, minAbsoluteChange: 0.1 }).outcome).toBe('pass');
  });

  it('reports a missing baseline as no_data', () => {
    const v = run(
      {
        kind: 'change',
        baseline: 'champion',
        suite: 'qa',
        metric: 'em',
        ...higher,
        minAbsoluteChange: 0,
      },
      input([suite('qa', [1])], { baselines: { base: [suite('qa', [0])] } }),
    );
    expect(v.outcome).toBe('no_data');
    expect(v.checks[0]!.message).toMatch(/no champion evidence/);
  });
});

describe('composites', () => {
  const O: Outcome[] = ['pass', 'fail', 'no_data'];
  it('combine by the documented table', () => {
    const table = O.flatMap((a) =>
      O.map((b) => `${a}+${b}: ${combineAll([a, b])}/${combineAny([a, b])}`),
    );
    expect(table).toEqual([
      'pass+pass: pass/pass',
      'pass+fail: fail/pass',
      'pass+no_data: no_data/pass',
      'fail+pass: fail/pass',
      'fail+fail: fail/fail',
      'fail+no_data: fail/fail',
      'no_data+pass: no_data/pass',
      'no_data+fail: fail/fail',
      'no_data+no_data: no_data/no_data',
    ]);
  });

  it('nest, with flattened leaves in policy order and their paths', () => {
    const policy: GatePolicy = gatePolicySchema.parse({
      kind: 'all',
      checks: [
        { kind: 'threshold', suite: 'qa', metric: 'em', min: 0.5 },
        {
          kind: 'any',
          checks: [
            { kind: 'threshold', suite: 'qa', metric: 'em', min: 0.9 },
            { kind: 'threshold', suite: 'missing', metric: 'em', min: 0 },
          ],
        },
      ],
    });
    const v = evaluateGate(policy, input([suite('qa', [0.6])]));
    expect(v.checks.map((c) => `${c.path}=${c.outcome}`)).toEqual([
      'checks[0]=pass',
      'checks[1].checks[0]=fail',
      'checks[1].checks[1]=no_data',
    ]);
    expect(v.tree.children?.map((c) => c.outcome)).toEqual(['pass', 'fail']);
    expect(v.outcome).toBe('fail');
  });
});

describe('purpose selectors', () => {
  const evidence = input([
    suite('qa', [1], { purpose: 'target' }),
    suite('trivia', [0.9], { purpose: 'retention' }),
    suite('arith', [0.4], { purpose: 'retention' }),
  ]);

  it('expand into one result per matching suite', () => {
    const v = run(
      { kind: 'threshold', suite: { purpose: 'retention' }, metric: 'em', min: 0.5 },
      evidence,
    );
    expect(v.checks.map((c) => `${c.suite}=${c.outcome}`)).toEqual(['trivia=pass', 'arith=fail']);
    expect(v.outcome).toBe('fail');
  });

  it('matching no suite is no_data', () => {
    const v = run(
      { kind: 'threshold', suite: { purpose: 'safety' }, metric: 'em', min: 0 },
      evidence,
    );
    expect(v.outcome).toBe('no_data');
    expect(v.checks[0]!.message).toMatch(/no suite with purpose 'safety'/);
  });
});

describe('non_inferiority', () => {
  // A deterministic wobble so the paired differences are not all identical.
  const base = Array.from({ length: 60 }, (_, i) => 0.5 + 0.3 * Math.sin(i * 1.7));
  const ni = (candidate: number[], margin = 0.02, direction = 'higher_is_better') =>
    run(
      {
        kind: 'non_inferiority',
        baseline: 'champion',
        suite: 'qa',
        metric: 'em',
        margin,
        direction,
      },
      input([suite('qa', candidate)], { baselines: { champion: [suite('qa', base)] }, seed: 7 }),
    ).checks[0]!;
  const wobble = (i: number) => 0.05 * Math.cos(i * 2.3);

  it('passes a clear improvement and reports the interval and p-value', () => {
    const r = ni(base.map((b, i) => b + 0.1 + wobble(i)));
    expect(r.outcome).toBe('pass');
    expect(r.interval!.low).toBeGreaterThan(0.05);
    expect(r.interval!.high).toBeLessThan(0.15);
    expect(r.interval!.confidence).toBe(0.95);
    expect(r.pValue).toBeLessThan(0.01);
    expect(r.n).toBe(60);
  });

  it('fails a clear drop, and lower_is_better mirrors it', () => {
    const drop = base.map((b, i) => b - 0.1 + wobble(i));
    expect(ni(drop).outcome).toBe('fail');
    expect(ni(drop, 0.02, 'lower_is_better').outcome).toBe('pass');
    expect(ni(drop, 0.2).outcome).toBe('pass'); // inside a generous margin
  });

  it('pairs by case id and ignores ids present on one side only', () => {
    const candidate = suite('qa', base.slice(0, 10));
    candidate.cases.push({ id: 'only-candidate', scores: { em: -100 }, passed: null });
    const v = run(
      {
        kind: 'non_inferiority',
        baseline: 'champion',
        suite: 'qa',
        metric: 'em',
        margin: 0,
        direction: 'higher_is_better',
      },
      input([candidate], { baselines: { champion: [suite('qa', base)] } }),
    );
    expect([v.outcome, v.checks[0]!.n]).toEqual(['pass', 10]);
  });
});

describe('max_regressions', () => {
  const base = suite('qa', [0, 0, 0, 0, 0], { passed: [true, true, false, true, true] });
  const cand = suite('qa', [0, 0, 0, 0, 0], { passed: [true, false, true, false, null] });
  const evidence = input([cand], { baselines: { base: [base] } });

  it('lists the ids that flipped pass → fail', () => {
    const fail = run({ kind: 'max_regressions', baseline: 'base', suite: 'qa', max: 1 }, evidence);
    expect(fail.outcome).toBe('fail');
    expect(fail.checks[0]).toMatchObject({ flipped: ['c1', 'c3'], n: 4, observed: 2 });
    expect(fail.checks[0]!.message).toMatch(/2 of 4 paired cases .* 1 from fail to pass/);
    const ok = run({ kind: 'max_regressions', baseline: 'base', suite: 'qa', max: 2 }, evidence);
    expect(ok.outcome).toBe('pass');
  });
});

describe('no_blocking_findings', () => {
  const findings: GateInput['findings'] = [
    { detector: 'contamination', severity: 'block', summary: '12% overlap' },
    { detector: 'overfitting', severity: 'warn', summary: 'val loss rising' },
  ];
  it('fails on a block finding, optionally filtered by detector', () => {
    const v = run({ kind: 'no_blocking_findings' }, input([], { findings }));
    expect(v.outcome).toBe('fail');
    expect(v.checks[0]!.message).toMatch(/contamination: 12% overlap/);
    const other = run(
      { kind: 'no_blocking_findings', detectors: ['overfitting'] },
      input([], { findings }),
    );
    expect(other.outcome).toBe('pass');
  });
});

describe('policy schema', () => {
  it('rejects a malformed policy with the path of the bad field', () => {
    const parsed = parseGatePolicy({
      kind: 'all',
      checks: [
        { kind: 'no_blocking_findings' },
        { kind: 'any', checks: [{ kind: 'threshold', suite: 'qa', min: 1 }] },
      ],
    });
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.errors.map((e) => e.path)).toEqual(['checks[1].checks[0].metric']);
    const noBounds = parseGatePolicy({ kind: 'threshold', suite: 'qa', metric: 'em' });
    expect(noBounds.ok ? [] : noBounds.errors[0]!.message).toMatch(/min, max or both/);
    expect(parseGatePolicy({ kind: 'all', checks: [] }).ok).toBe(false);
  });

  it('fills defaults', () => {
    const p = gatePolicySchema.parse({
      kind: 'non_inferiority',
      baseline: 'base',
      suite: 'qa',
      metric: 'em',
      margin: 0.01,
      direction: 'higher_is_better',
    });
    expect(p).toMatchObject({ confidence: 0.95 });
  });
});

/** Minimal well-formedness check: balanced tags, quoted attributes, no raw `<` or `&` in text. */
function wellFormed(xml: string): boolean {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const entity = '&(?:amp|lt|gt|quot|apos);';
  const text = new RegExp(`^(?:[^<&]|${entity})*$`);
  const tag = new RegExp(`^<(/?)([A-Za-z]+)((?:\\s+[A-Za-z]+="(?:[^"<&]|${entity})*")*)\\s*(/?)>`);
  const stack: string[] = [];
  let rest = body;
  while (rest.length > 0) {
    const lt = rest.indexOf('<');
    const chunk = lt === -1 ? rest : rest.slice(0, lt);
    if (!text.test(chunk)) return false;
    if (lt === -1) break;
    rest = rest.slice(lt);
    const m = tag.exec(rest);
    if (!m) return false;
    const [all, close, name, , selfClose] = m;
    if (close) {
      if (stack.pop() !== name) return false;
    } else if (!selfClose) stack.push(name!);
    rest = rest.slice(all.length);
  }
  return stack.length === 0;
}

describe('reports', () => {
  const policy = {
    kind: 'all',
    checks: [
      { kind: 'threshold', suite: 'a<b&"c"', metric: 'em', min: 0.5 },
      { kind: 'threshold', suite: 'qa', metric: 'em', min: 0.9 },
      { kind: 'threshold', suite: 'missing', metric: 'em', min: 0 },
      { kind: 'no_blocking_findings' },
    ],
  };
  const evidence = input([suite('a<b&"c"', [1]), suite('qa', [0.5])], {
    findings: [{ detector: 'x', severity: 'block', summary: 'tag <script> & "quotes"' }],
  });
  const verdict = run(policy, evidence);

  it('JUnit has one testcase per check, failures and skips, and escapes <&"', () => {
    const xml = renderJUnit('release "v2" <&>', verdict);
    expect(wellFormed(xml)).toBe(true);
    expect(wellFormed('<a><b></a>')).toBe(false); // the checker itself can fail
    expect(wellFormed('<a>x < y</a>')).toBe(false);
    expect(xml.match(/<testcase /g)).toHaveLength(4);
    expect(xml.match(/<failure /g)).toHaveLength(2);
    expect(xml.match(/<skipped /g)).toHaveLength(1);
    expect(xml).toContain('tests="4" failures="2" errors="0" skipped="1"');
    expect(xml).toContain('a&lt;b&amp;&quot;c&quot;');
    expect(xml).toContain('tag &lt;script&gt; &amp; &quot;quotes&quot;');
  });

  it('Markdown starts with the verdict and folds long lists', () => {
    const md = renderMarkdownSummary('release', verdict);
    expect(md.split('\n')[0]).toBe('## ❌ Gate `release`: fail');
    expect(md).toContain('4 checks: 1 pass, 2 fail, 1 no_data.');
    expect(md).not.toContain('<details>');

    const n = 30;
    const base = suite('qa', Array(n).fill(0), { passed: Array(n).fill(true) });
    const cand = suite('qa', Array(n).fill(0), { passed: Array(n).fill(false) });
    const many = run(
      {
        kind: 'all',
        checks: [
          { kind: 'max_regressions', baseline: 'base', suite: 'qa', max: 0 },
          ...Array.from({ length: 24 }, () => ({ kind: 'no_blocking_findings' })),
        ],
      },
      input([cand], { baselines: { base: [base] } }),
    );
    const long = renderMarkdownSummary('release', many);
    expect(long.startsWith('## ❌ Gate `release`: fail\n')).toBe(true);
    expect(long).toContain('c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, … 20 more');
    expect(long).toContain('<summary>24 passing checks</summary>');
    expect(long).toContain('<summary>All 30 flipped cases of checks[0] on qa</summary>');
    expect(long).toContain('`c29`');
    // The top table holds only the failing check; the 24 passing rows are inside <details>.
    const top = long.slice(0, long.indexOf('<details>'));
    expect(top.match(/^\| (?:✅|❌|⚠️) \|/gmu)).toHaveLength(1);
  });

  it('a passing gate says so', () => {
    const ok = run({ kind: 'no_blocking_findings' }, input([]));
    expect(renderMarkdownSummary('g', ok).split('\n')[0]).toBe('## ✅ Gate `g`: pass');
  });
});

describe('serving_latency', () => {
  const figures = (requests: number, p95: number | null) => ({
    serving: [
      {
        last: 1000,
        requests,
        latencyMs: p95 === null ? null : { p50: p95 / 2, p95, p99: p95 * 2 },
      },
    ],
  });
  const budget = { kind: 'serving_latency', maxMs: 500 };

  it('passes within the budget (on it, tolerantly) and fails over it, naming the numbers', () => {
    const on = run(budget, input([], figures(40, 500)));
    expect([on.outcome, on.checks[0]!.observed, on.checks[0]!.n]).toEqual(['pass', 500, 40]);
    const over = run(budget, input([], figures(40, 812.5)));
    expect(over.outcome).toBe('fail');
    expect(over.checks[0]).toMatchObject({ metric: 'latency p95', threshold: { max: 500 } });
    expect(over.checks[0]!.message).toMatch(/p95 is 812\.5 ms .*40 answered.*≤ 500 ms/);
    const p99 = run({ ...budget, percentile: 'p99' }, input([], figures(40, 200)));
    expect([p99.outcome, p99.checks[0]!.observed]).toEqual(['pass', 400]);
  });

  it('is no_data with too few requests or no figures, and says how to get them', () => {
    const few = run(budget, input([], figures(19, 100)));
    expect([few.outcome, few.checks[0]!.n]).toEqual(['no_data', 19]);
    expect(few.checks[0]!.message).toMatch(/19 served requests, fewer than the 20.*`staging`/);
    expect(run(budget, input([], figures(0, null))).outcome).toBe('no_data');
    // Figures over another window are not this check's.
    expect(run({ ...budget, last: 50 }, input([], figures(40, 100))).outcome).toBe('no_data');
    expect(run(budget, input([])).checks[0]!.message).toMatch(/No serving figures.*canary/);
  });

  it('fills defaults, refuses a window smaller than the minimum, and lists its windows', () => {
    expect(gatePolicySchema.parse(budget)).toEqual({
      ...budget,
      percentile: 'p95',
      minRequests: 20,
      last: 1000,
    });
    const bad = parseGatePolicy({ ...budget, minRequests: 50, last: 10 });
    expect(bad.ok ? [] : bad.errors.map((e) => e.path)).toEqual(['minRequests']);
    expect(parseGatePolicy({ kind: 'serving_latency' }).ok).toBe(false);
    const policy = gatePolicySchema.parse({
      kind: 'all',
      checks: [budget, { kind: 'any', checks: [{ ...budget, last: 100 }, budget] }],
    });
    expect(servingWindows(policy)).toEqual([1000, 100]);
  });
});
