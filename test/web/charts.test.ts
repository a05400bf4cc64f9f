import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { describe, expect, it } from 'vitest';
import {
  deltaHeatmap,
  ema,
  leaderboardScores,
  lossChart,
  runsOverlay,
} from '../../web/charts/index.ts';

/** Compiles to Vega and runs the dataflow headless: the marks' items are what would be drawn. */
async function render(spec: TopLevelSpec) {
  const vg = compile(spec).spec;
  const view = new View(parse(vg), { renderer: 'none' });
  await view.runAsync();
  return { vg, view };
}

interface Item {
  datum: Record<string, unknown>;
}
interface SceneNode {
  marktype?: string;
  name?: string;
  items?: (SceneNode & Item)[];
}

/** The items of every mark named `${name}_marks`, across the groups a layer or facet makes. */
function items(view: View, name: string, suffix = '_marks'): Item[] {
  const found: Item[] = [];
  const walk = (node: SceneNode) => {
    for (const item of node.items ?? []) {
      if (node.name === `${name}${suffix}`) found.push(item);
      for (const child of (item as SceneNode).items ?? []) walk(child);
    }
  };
  walk((view.scenegraph() as unknown as { root: SceneNode }).root);
  return found;
}

const markTypes = (vg: { marks?: { name?: string; type: string; marks?: unknown[] }[] }) => {
  const out: Record<string, string> = {};
  const walk = (marks: typeof vg.marks) =>
    marks?.forEach((m) => {
      if (m.name) out[m.name] = m.type;
      walk(m.marks as typeof vg.marks);
    });
  walk(vg.marks);
  return out;
};

describe('ema', () => {
  it('returns the input when smoothing is 0', () => {
    expect(ema([3, 1, 4, 1, 5], 0)).toEqual([3, 1, 4, 1, 5]);
  });

  it('is debiased like TensorBoard', () => {
    // w = 0.5: raw averages 0.5, 1.25, 2.125 over debias factors 0.5, 0.75, 0.875.
    const out = ema([1, 2, 3], 0.5);
    expect(out[0]).toBeCloseTo(1, 12);
    expect(out[1]).toBeCloseTo(5 / 3, 12);
    expect(out[2]).toBeCloseTo(17 / 7, 12);
    // A constant series stays constant: no pull towards 0 at the start.
    expect(ema([2, 2, 2], 0.9)).toEqual([2, 2, 2].map(() => expect.closeTo(2, 12)));
  });

  it('passes non-finite values through without poisoning the average', () => {
    const out = ema([1, NaN, 1], 0.6);
    expect(out[1]).toBeNaN();
    expect(out[2]).toBeCloseTo(1, 12);
  });

  it('rejects a smoothing outside [0, 1)', () => {
    expect(() => ema([1], 1)).toThrow(RangeError);
    expect(() => ema([1], -0.1)).toThrow(RangeError);
  });
});

const train = [
  { step: 0, value: 4, wallTime: 1_700_000_000_000 },
  { step: 10, value: 2, wallTime: 1_700_000_010_000 },
  { step: 20, value: 1, wallTime: 1_700_000_030_000 },
];
const validation = [{ step: 20, value: 1.5, wallTime: 1_700_000_030_000 }];

describe('lossChart', () => {
  it('draws train and validation, smoothed over a faint raw line', async () => {
    const { vg, view } = await render(lossChart({ train, validation, x: 'step', smoothing: 0.5 }));
    expect(markTypes(vg)).toMatchObject({ raw_marks: 'line', loss_marks: 'line' });
    const loss = items(view, 'loss').map((i) => i.datum);
    expect(loss.filter((d) => d.series === 'train').map((d) => d.smoothed)).toEqual(
      ema([4, 2, 1], 0.5),
    );
    expect(loss.filter((d) => d.series === 'validation')).toHaveLength(1);
    expect(items(view, 'raw').map((i) => i.datum.value)).toEqual([4, 2, 1, 1.5]);
  });

  it('does not draw the raw line twice when nothing is smoothed', async () => {
    const { vg } = await render(lossChart({ train, x: 'step', smoothing: 0 }));
    expect(markTypes(vg)).not.toHaveProperty('raw_marks');
  });

  it('puts x in seconds since the first point when x is relative', async () => {
    const { view } = await render(
      lossChart({ train, x: 'relative', smoothing: 0, checkpoints: [{ step: 15, id: 'c' }] }),
    );
    expect(items(view, 'loss').map((i) => i.datum.x)).toEqual([0, 10, 30]);
    // A checkpoint between two logs is placed by interpolating their wall times.
    expect(items(view, 'checkpoints').map((i) => i.datum.x)).toEqual([20]);
  });

  it('uses a temporal axis on wall time', async () => {
    const { vg, view } = await render(lossChart({ train, x: 'wall', smoothing: 0 }));
    expect(vg.scales?.find((s) => s.name === 'x')?.type).toBe('time');
    expect(items(view, 'loss').map((i) => i.datum.x)).toEqual(train.map((p) => p.wallTime));
  });

  it('draws the bucket band, one rule per checkpoint and the overfitting finding', async () => {
    const buckets = [
      { step: 0, min: 3.5, max: 4.5 },
      { step: 10, min: 1.8, max: 2.4 },
    ];
    const checkpoints = [
      { step: 5, id: 'a' },
      { step: 10, id: 'b' },
      { step: 20, id: 'c' },
    ];
    const { vg, view } = await render(
      lossChart({
        train,
        buckets,
        checkpoints,
        overfitting: { bestStep: 10, startStep: 12 },
        x: 'step',
        smoothing: 0,
      }),
    );
    expect(markTypes(vg)).toMatchObject({
      band_marks: 'area',
      checkpoints_marks: 'rule',
      overfitting_marks: 'rect',
      best_marks: 'rule',
    });
    // An area is one item holding all its points.
    const band = items(view, 'band')[0]!.datum;
    expect(band).toMatchObject({ min: 3.5, max: 4.5 });
    expect(view.data(vg.marks!.find((m) => m.name === 'band_marks')!.from!.data!)).toEqual(
      buckets.map((b) => expect.objectContaining({ x: b.step, min: b.min, max: b.max })),
    );
    expect(items(view, 'checkpoints').map((i) => i.datum.id)).toEqual(['a', 'b', 'c']);
    expect(items(view, 'overfitting').map((i) => i.datum)).toEqual([
      expect.objectContaining({ x: 12, x2: 20 }),
    ]);
    expect(items(view, 'best').map((i) => i.datum.x)).toEqual([10]);
  });

  it('puts evaluation scores on a second, independent y axis', async () => {
    const evaluations = [
      { step: 10, suite: 'gsm8k', value: 0.4 },
      { step: 20, suite: 'gsm8k', value: 0.5 },
      { step: 20, suite: 'mmlu', value: 0.6 },
    ];
    const buckets = [{ step: 0, min: 3, max: 5 }];
    const { vg, view } = await render(
      lossChart({ train, buckets, evaluations, x: 'step', smoothing: 0 }),
    );
    const ys = vg.scales!.filter((s) => s.name.endsWith('_y'));
    expect(ys).toHaveLength(2);
    expect(vg.axes?.filter((a) => a.orient === 'right')).toHaveLength(1);
    expect(items(view, 'evaluations').map((i) => i.datum.suite)).toEqual([
      'gsm8k',
      'gsm8k',
      'mmlu',
    ]);
    // The loss line and the band still share one y scale; the scores are not on it.
    const lossY = JSON.stringify(ys.find((s) => JSON.stringify(s.domain).includes('smoothed')));
    expect(lossY).toContain('"field":"min"');
    expect(lossY).not.toContain('"field":"value"');
  });

  it('gives a valid spec with empty data for empty input', async () => {
    const { view } = await render(
      lossChart({ train: [], checkpoints: [], evaluations: [], x: 'relative', smoothing: 0.9 }),
    );
    expect(items(view, 'loss')).toEqual([]);
  });
});

describe('deltaHeatmap', () => {
  const input = {
    rows: ['ckpt-200', 'ckpt-100'],
    columns: ['mmlu', 'gsm8k'],
    cells: [
      { checkpoint: 'ckpt-100', suite: 'gsm8k', delta: 0.05, low: 0.01, high: 0.09 },
      { checkpoint: 'ckpt-100', suite: 'mmlu', delta: -0.02 },
      { checkpoint: 'ckpt-200', suite: 'gsm8k', delta: 0.01 },
      { checkpoint: 'ckpt-200', suite: 'mmlu', delta: -0.1 },
    ],
  };

  it('is a rect per cell with a signed text label, rows and columns in the given order', async () => {
    const { vg, view } = await render(deltaHeatmap(input));
    expect(markTypes(vg)).toMatchObject({ cells_marks: 'rect', labels_marks: 'text' });
    expect(items(view, 'cells')).toHaveLength(4);
    expect(items(view, 'labels').map((i) => i.datum.label)).toEqual([
      '+0.050',
      '-0.020',
      '+0.010',
      '-0.100',
    ]);
    expect(view.scale('x').domain()).toEqual(['mmlu', 'gsm8k']);
    expect(view.scale('y').domain()).toEqual(['ckpt-200', 'ckpt-100']);
  });

  it('centres a diverging colour scale on 0', async () => {
    const { vg, view } = await render(deltaHeatmap(input));
    const color = vg.scales!.find((s) => s.name === 'color')!;
    expect(color).toMatchObject({ domainMid: 0, range: { scheme: 'redblue' } });
    // Symmetric even though the data is skewed negative: +0.1 is as blue as -0.1 is red.
    expect(view.scale('color').domain()).toEqual([-0.1, 0, 0.1]);
  });

  it('gives a valid spec with empty data for empty input', async () => {
    const { view } = await render(deltaHeatmap({ rows: [], columns: [], cells: [] }));
    expect(items(view, 'cells')).toEqual([]);
  });
});

describe('leaderboardScores', () => {
  const versions = [
    { label: 'v1', suite: 'gsm8k', score: 0.4, low: 0.35, high: 0.45 },
    { label: 'v2', suite: 'gsm8k', score: 0.5, low: 0.46, high: 0.54 },
    { label: 'v1', suite: 'bleu', score: 21, low: 19, high: 23 },
    { label: 'v2', suite: 'bleu', score: 24, low: 22, high: 26 },
  ];

  it('draws a point and a CI rule per version, a panel per suite with its own x scale', async () => {
    const { vg, view } = await render(leaderboardScores({ versions }));
    expect(markTypes(vg)).toMatchObject({ scores_marks: 'symbol', intervals_marks: 'rule' });
    expect(items(view, 'scores')).toHaveLength(4);
    const rules = items(view, 'intervals').map((i) => [i.datum.low, i.datum.high]);
    expect(rules).toEqual(
      expect.arrayContaining([
        [19, 23],
        [0.46, 0.54],
      ]),
    );
    expect(items(view, 'cell', '').map((i) => i.datum.suite)).toEqual(['bleu', 'gsm8k']);
    // Independent x: the x scale lives in each panel, so BLEU does not flatten the pass rates.
    expect(vg.scales?.map((s) => s.name) ?? []).not.toContain('x');
    const cell = vg.marks!.find((m) => m.name === 'cell') as { scales?: { name: string }[] };
    expect(cell.scales?.map((s) => s.name)).toContain('child_x');
  });

  it('gives a valid spec with empty data for empty input', async () => {
    const { view } = await render(leaderboardScores({ versions: [] }));
    expect(items(view, 'scores')).toEqual([]);
  });
});

describe('runsOverlay', () => {
  it('draws one line per run on a shared step axis', async () => {
    const points = ['a', 'b'].flatMap((run, r) =>
      [1, 2, 3].map((step) => ({ run, step, value: 3 - step + r })),
    );
    const { view } = await render(runsOverlay({ points, title: 'training loss' }));
    const drawn = items(view, 'marks', '').map((i) => `${i.datum.run}@${i.datum.step}`);
    expect(new Set(drawn)).toEqual(new Set(points.map((p) => `${p.run}@${p.step}`)));
    expect(view.scale('x').domain()).toEqual([1, 3]);
    expect(view.scale('color').domain()).toEqual(['a', 'b']);
  });
});

describe('lossChart zoom', () => {
  it('adds an x brush named zoom only when asked', async () => {
    const train = [1, 2, 3].map((step) => ({ step, value: 1 / step, wallTime: step * 1000 }));
    const plain = await render(lossChart({ train, x: 'step', smoothing: 0 }));
    expect(() => plain.view.signal('zoom')).toThrow();
    const zoomable = await render(lossChart({ train, x: 'step', smoothing: 0, zoomable: true }));
    expect(zoomable.view.signal('zoom')).toEqual({});
  });
});
