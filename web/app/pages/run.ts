import { deltaHeatmap, lossChart, type XMode } from '../../charts/index.ts';
import { api } from '../api.ts';
import { draw } from '../chart.ts';
import { h, mount } from '../dom.ts';
import { findingList } from '../findings.ts';
import { count, duration, num, signed, tone, when } from '../format.ts';
import { projectPath, refresh, setQuery, type View } from '../router.ts';
import { loadMetricSummaries, loadSeries } from '../series.ts';
import type { Checkpoint, Evaluation, Finding, Job, MetricSummary, Run } from '../types.ts';

const LIVE_EVERY_MS = 3000;

export interface RunEvaluations {
  evaluations: (Evaluation & { metric: string })[];
  base: { checkpointId: string; evaluations: (Evaluation & { metric: string })[] } | null;
}

/** Which logged keys are the training and validation loss, whatever the trainer called them. */
export function lossKeys(keys: string[]) {
  const train =
    keys.find((k) => k === 'train/loss') ??
    keys.find((k) => /loss/i.test(k) && !/val|eval|test/i.test(k)) ??
    keys[0];
  const validation =
    keys.find((k) => k === 'validation/loss') ??
    keys.find((k) => /loss/i.test(k) && /val|eval/i.test(k));
  return { train, validation };
}

export async function runPage({ root, params, query: q, signal }: View) {
  const project = params.project!;
  const runId = params.run!;
  const x = (q.get('x') as XMode | null) ?? 'step';
  const smoothing = Number(q.get('smooth') ?? 0.6);
  const from = q.get('from') ? Number(q.get('from')) : null;
  const to = q.get('to') ? Number(q.get('to')) : null;

  const [run, metrics, { checkpoints }, evals, findings, jobs] = await Promise.all([
    api<Run>(`/runs/${runId}`),
    loadMetricSummaries(runId),
    api<{ checkpoints: Checkpoint[] }>(`/runs/${runId}/checkpoints`),
    api<RunEvaluations>(`/runs/${runId}/evaluations`),
    api<{ findings: Finding[] }>(`/runs/${runId}/findings`).then((r) => r.findings),
    api<{ jobs: Job[] }>(`/runs/${runId}/jobs`).then((r) => r.jobs),
  ]);
  const keys = lossKeys(metrics.map((m) => m.key));
  const [train, validation] = await Promise.all([
    keys.train ? loadSeries(runId, keys.train, { from, to }) : null,
    keys.validation ? loadSeries(runId, keys.validation, { from, to }) : null,
  ]);
  const stepOf = new Map(checkpoints.map((c) => [c.id, c.step ?? 0]));
  const finished = evals.evaluations.filter(
    (e) => e.status === 'finished' && e.aggregates?.[e.metric],
  );
  const overfit = findings.find((f) => f.detector === 'overfitting');

  const lossEl = h('div', { class: 'chart', 'data-testid': 'loss-chart' });
  const heatEl = h('div', { class: 'chart', 'data-testid': 'delta-heatmap' });
  const live = run.status === 'running' || run.status === 'queued';
  mount(
    root,
    runHeader(project, run, metrics, jobs),
    h('h2', null, 'Loss'),
    h(
      'div',
      { class: 'controls' },
      h(
        'label',
        null,
        'x axis ',
        h(
          'select',
          {
            name: 'x',
            onchange: (e: Event) => setQuery({ x: (e.target as HTMLSelectElement).value }, true),
          },
          (['step', 'relative', 'wall'] as const).map((m) =>
            h(
              'option',
              { value: m, selected: m === x },
              m === 'relative' ? 'relative time' : m === 'wall' ? 'wall time' : 'step',
            ),
          ),
        ),
      ),
      h(
        'label',
        null,
        'smoothing ',
        h('input', {
          type: 'range',
          name: 'smooth',
          min: 0,
          max: 0.99,
          step: 0.01,
          value: smoothing,
          onchange: (e: Event) => setQuery({ smooth: (e.target as HTMLInputElement).value }, true),
        }),
        h('span', { class: 'dim' }, ` ${smoothing.toFixed(2)}`),
      ),
      from !== null || to !== null
        ? h(
            'button',
            { class: 'secondary', onclick: () => setQuery({ from: null, to: null }) },
            `reset zoom (steps ${from ?? '…'}–${to ?? '…'})`,
          )
        : h(
            'span',
            { class: 'hint' },
            'drag across the chart to zoom; the server re-buckets the window',
          ),
    ),
    train?.points.length
      ? lossEl
      : h(
          'div',
          { class: 'empty' },
          live ? 'Waiting for the first logged loss…' : 'This run logged no loss.',
        ),
    h('h2', null, 'Checkpoints and evaluations'),
    checkpointTable(project, checkpoints, evals),
    finished.length && evals.base ? heatEl : null,
    h('h2', null, 'Findings'),
    findingList(findings, stepOf),
    h('h2', null, 'Parameters'),
    paramsTable(run),
    h('h2', null, 'Metrics'),
    metricsTable(metrics),
    h('h2', null, 'Log'),
    jobLog(run, jobs),
  );

  const drawing: Promise<unknown>[] = [];
  if (train?.points.length) {
    const spec = lossChart({
      train: train.points,
      validation: validation?.points ?? [],
      buckets: train.band ?? undefined,
      checkpoints: checkpoints.map((c) => ({ step: c.step ?? 0, id: c.id.slice(0, 8) })),
      overfitting:
        overfit && typeof overfit.evidence.bestStep === 'number'
          ? {
              bestStep: overfit.evidence.bestStep,
              startStep: Number(overfit.evidence.beganAtStep ?? overfit.evidence.bestStep),
            }
          : undefined,
      // The base at step 0: where each suite started, so a drop shows as a drop.
      evaluations: [...(evals.base?.evaluations ?? []), ...finished]
        .filter((e) => e.status === 'finished' && e.aggregates?.[e.metric])
        .map((e) => ({
          step: stepOf.get(e.checkpointId) ?? 0,
          suite: e.suite,
          value: e.aggregates![e.metric]!.value,
        })),
      x,
      smoothing,
      zoomable: true,
    });
    drawing.push(
      draw(lossEl, spec).then(({ view }) => {
        // A brush in step units (or times, mapped back to the steps drawn there) asks for a window.
        view.addEventListener('pointerup', () => {
          const range = (view.signal('zoom') as { x?: [number, number] } | undefined)?.x;
          if (!range) return;
          const [a, b] = range[0] < range[1] ? range : [range[1], range[0]];
          const t0 = train.points[0]!.wallTime;
          const xOf = (p: { step: number; wallTime: number }) =>
            x === 'step' ? p.step : x === 'relative' ? (p.wallTime - t0) / 1000 : p.wallTime;
          const inside = train.points.filter((p) => xOf(p) >= a && xOf(p) <= b);
          if (inside.length < 2) return;
          setQuery({ from: String(inside[0]!.step), to: String(inside.at(-1)!.step) });
        });
      }),
    );
  }
  if (finished.length && evals.base) drawing.push(draw(heatEl, heatmapSpec(checkpoints, evals)));
  await Promise.all(drawing);
  if (live) watch(runId, run, signal);
}

/** Polls while the run trains and redraws only when something new arrived. */
function watch(runId: string, seen: Run, signal: AbortSignal) {
  const fingerprint = (r: Run) =>
    `${r.status}|${Object.values(r.metrics)
      .map((m) => m.step)
      .join(',')}`;
  const before = fingerprint(seen);
  const timer = setTimeout(async () => {
    if (signal.aborted) return;
    try {
      const now = await api<Run>(`/runs/${runId}`);
      if (signal.aborted) return;
      if (fingerprint(now) !== before) refresh();
      else watch(runId, now, signal);
    } catch {
      if (!signal.aborted) watch(runId, seen, signal);
    }
  }, LIVE_EVERY_MS);
  signal.addEventListener('abort', () => clearTimeout(timer));
}

function runHeader(project: string, run: Run, metrics: MetricSummary[], jobs: Job[]) {
  const totalSteps = Number((run.config as { steps?: unknown } | null)?.steps);
  const step = metrics.reduce((most, m) => Math.max(most, m.lastStep), 0);
  const running = run.status === 'running';
  const job = jobs[0];
  return h(
    'div',
    { class: 'run-header' },
    h(
      'h1',
      null,
      run.name,
      ' ',
      h('span', { class: `badge status ${run.status}`, 'data-testid': 'run-status' }, run.status),
    ),
    h(
      'p',
      { class: 'dim' },
      run.plugin ? `trainer ${run.plugin}` : 'logged externally',
      run.backend ? ` · ${run.backend}${run.device ? ` on ${run.device}` : ''}` : '',
      ` · created ${when(run.createdAt)}`,
      run.startedAt && run.finishedAt
        ? ` · took ${duration(Date.parse(run.finishedAt) - Date.parse(run.startedAt))}`
        : '',
      run.parentRunId
        ? [
            ' · parent ',
            h(
              'a',
              { href: projectPath(project, 'runs', run.parentRunId) },
              run.parentRunId.slice(0, 8),
            ),
          ]
        : null,
    ),
    running && Number.isFinite(totalSteps) && totalSteps > 0
      ? h(
          'div',
          { class: 'progress', 'data-testid': 'run-progress' },
          h('progress', { max: totalSteps, value: step }),
          ` step ${step} of ${totalSteps}`,
          job?.attempts && job.attempts > 1 ? ` · attempt ${job.attempts}` : '',
        )
      : null,
    run.status === 'queued'
      ? h('p', { class: 'hint' }, 'Queued: waiting for a worker to claim it.')
      : null,
    run.error ? h('pre', { class: 'error' }, run.error) : null,
  );
}

function checkpointTable(project: string, checkpoints: Checkpoint[], evals: RunEvaluations) {
  if (!checkpoints.length)
    return h(
      'div',
      { class: 'empty' },
      'No checkpoints yet: each one is evaluated on every active suite when it is registered.',
    );
  const suites = [...new Set(evals.evaluations.map((e) => e.suite))].sort();
  const byCell = new Map(evals.evaluations.map((e) => [`${e.checkpointId}|${e.suite}`, e]));
  const baseBy = new Map(
    (evals.base?.evaluations ?? []).map((e) => [`${e.suite}|${e.suiteVersion}`, e]),
  );
  const ordered = [...checkpoints].sort((a, b) => (a.step ?? 0) - (b.step ?? 0));
  return h(
    'table',
    { class: 'grid', 'data-testid': 'checkpoints' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        h('th', null, 'Step'),
        h('th', null, 'Kind'),
        h('th', { class: 'num' }, 'Trainable'),
        suites.map((s) => h('th', { class: 'num' }, s)),
      ),
    ),
    h(
      'tbody',
      null,
      ordered.map((c, i) =>
        h(
          'tr',
          null,
          h('td', null, c.step ?? '–'),
          h('td', null, c.kind),
          h('td', { class: 'num' }, count(c.trainableParams)),
          suites.map((s) => {
            const e = byCell.get(`${c.id}|${s}`);
            if (!e) return h('td', { class: 'dim num' }, '–');
            if (e.status !== 'finished')
              return h(
                'td',
                { class: 'dim num' },
                e.status === 'failed' ? 'failed' : `${e.status}…`,
              );
            const agg = e.aggregates?.[e.metric];
            const base = baseBy.get(`${e.suite}|${e.suiteVersion}`)?.aggregates?.[e.metric];
            const prev = ordered[i - 1] && byCell.get(`${ordered[i - 1]!.id}|${s}`);
            const delta = agg && base ? agg.value - base.value : null;
            return h(
              'td',
              {
                class: 'num',
                title: agg
                  ? `${e.metric} ${num(agg.value)} (${num(agg.low)} – ${num(agg.high)})`
                  : '',
              },
              agg ? num(agg.value) : '–',
              delta !== null &&
                h('div', { class: `delta ${tone(delta)}` }, `${signed(delta)} vs base`),
              prev && prev.status === 'finished'
                ? h(
                    'a',
                    {
                      class: 'small',
                      href: projectPath(project, 'evaluations', prev.id, 'diff', e.id),
                    },
                    'cases vs previous',
                  )
                : null,
            );
          }),
        ),
      ),
    ),
  );
}

function heatmapSpec(checkpoints: Checkpoint[], evals: RunEvaluations) {
  const label = new Map(checkpoints.map((c) => [c.id, `step ${c.step ?? 0}`]));
  const baseBy = new Map(
    (evals.base?.evaluations ?? []).map((e) => [`${e.suite}|${e.suiteVersion}`, e]),
  );
  const cells = evals.evaluations.flatMap((e) => {
    const agg = e.aggregates?.[e.metric];
    const base = baseBy.get(`${e.suite}|${e.suiteVersion}`)?.aggregates?.[e.metric];
    if (e.status !== 'finished' || !agg || !base) return [];
    return [
      {
        checkpoint: label.get(e.checkpointId) ?? e.checkpointId.slice(0, 8),
        suite: e.suite,
        delta: agg.value - base.value,
      },
    ];
  });
  const rows = [...checkpoints]
    .sort((a, b) => (a.step ?? 0) - (b.step ?? 0))
    .map((c) => label.get(c.id)!);
  return deltaHeatmap({
    rows: rows.filter((r) => cells.some((c) => c.checkpoint === r)),
    columns: [...new Set(cells.map((c) => c.suite))].sort(),
    cells,
  });
}

function paramsTable(run: Run) {
  const entries = Object.entries(run.params);
  const config = run.config ? JSON.stringify(run.config, null, 2) : null;
  return h(
    'div',
    { class: 'two-col' },
    entries.length
      ? h(
          'table',
          { class: 'grid kv', 'data-testid': 'params' },
          h(
            'tbody',
            null,
            entries.map(([k, v]) => h('tr', null, h('th', null, k), h('td', null, v))),
          ),
        )
      : h('p', { class: 'dim' }, 'No params logged.'),
    config
      ? h('details', null, h('summary', null, 'trainer config'), h('pre', null, config))
      : null,
    Object.keys(run.tags).length
      ? h(
          'p',
          null,
          Object.entries(run.tags).map(([k, v]) => h('span', { class: 'badge tag' }, `${k}=${v}`)),
        )
      : null,
  );
}

function metricsTable(metrics: MetricSummary[]) {
  if (!metrics.length) return h('p', { class: 'dim' }, 'No metrics logged.');
  return h(
    'table',
    { class: 'grid' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        h('th', null, 'Metric'),
        h('th', { class: 'num' }, 'Last step'),
        h('th', { class: 'num' }, 'Last value'),
      ),
    ),
    h(
      'tbody',
      null,
      metrics.map((m) =>
        h(
          'tr',
          null,
          h('td', null, m.key),
          h('td', { class: 'num' }, m.lastStep),
          h(
            'td',
            { class: 'num' },
            typeof m.lastValue === 'number' ? num(m.lastValue, 4) : m.lastValue,
          ),
        ),
      ),
    ),
  );
}

function jobLog(run: Run, jobs: Job[]) {
  const events: [string, string][] = [[run.createdAt, `run created`]];
  for (const j of jobs) {
    const what = j.kind === 'train' ? 'training' : j.kind;
    events.push([j.createdAt, `${what} job queued`]);
    if (j.startedAt)
      events.push([
        j.startedAt,
        `${what} claimed by ${j.workerId ?? 'a worker'} (attempt ${j.attempts})`,
      ]);
    if (j.heartbeatAt && !j.finishedAt) events.push([j.heartbeatAt, `${what}: last heartbeat`]);
    if (j.finishedAt)
      events.push([j.finishedAt, `${what} ${j.status}${j.error ? `: ${j.error}` : ''}`]);
  }
  events.sort((a, b) => Date.parse(a[0]) - Date.parse(b[0]));
  const time = (iso: string) => new Date(iso).toISOString().replace('T', ' ').slice(0, 19);
  return h(
    'pre',
    { class: 'log', 'data-testid': 'run-log' },
    events.map(([t, line]) => `${time(t)}  ${line}`).join('\n'),
  );
}
