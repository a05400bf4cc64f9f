import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deltaHeatmap, leaderboardScores, lossChart } from '../../web/charts/index.ts';
import { launchChromium } from '../helpers/browser.ts';

// The same local builds the UI serves: no CDN.
const scripts = [
  'vega/build/vega.min.js',
  'vega-lite/build/vega-lite.min.js',
  'vega-embed/build/vega-embed.min.js',
].map((p) => fileURLToPath(new URL(`../../node_modules/${p}`, import.meta.url)));
const shots = fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-charts-'));
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  fs.rmSync(shots, { recursive: true, force: true });
});

/** Renders a spec with vega-embed on a canvas and counts the pixels that are not background. */
async function render(name: string, spec: object): Promise<number> {
  const page = await browser.newPage({ viewport: { width: 900, height: 500 } });
  try {
    await page.setContent(
      '<html><body style="margin:0;background:#fff"><div id="chart"></div></body></html>',
    );
    for (const file of scripts) await page.addScriptTag({ path: file });
    // Runs in the page (a string: this project's types have no DOM).
    const inked = await page.evaluate<number>(`(async () => {
      await vegaEmbed('#chart', ${JSON.stringify(spec)}, { renderer: 'canvas', actions: false });
      const canvas = document.querySelector('#chart canvas');
      const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
      let count = 0;
      for (let i = 0; i < data.length; i += 4)
        if (data[i + 3] > 0 && (data[i] < 240 || data[i + 1] < 240 || data[i + 2] < 240)) count++;
      return count;
    })()`);
    await page.screenshot({ path: path.join(shots, `${name}.png`) });
    return inked;
  } finally {
    await page.close();
  }
}

describe('the chart specs draw in a real browser', () => {
  it('draws a loss chart with its band, checkpoints and evaluation axis', async () => {
    const train = Array.from({ length: 200 }, (_, i) => ({
      step: i + 1,
      value: 2 * Math.exp(-i / 50) + 0.1 * Math.sin(i),
      wallTime: 1_700_000_000_000 + i * 1000,
    }));
    const spec = lossChart({
      train,
      validation: train
        .filter((p) => p.step % 25 === 0)
        .map((p) => ({ ...p, value: p.value + 0.2 })),
      checkpoints: [
        { step: 100, id: 'a' },
        { step: 200, id: 'b' },
      ],
      evaluations: [
        { step: 100, suite: 'capitalisation', value: 0.9 },
        { step: 200, suite: 'capitalisation', value: 0.4 },
      ],
      x: 'step',
      smoothing: 0.6,
    });
    expect(await render('loss', spec)).toBeGreaterThan(2000);
  }, 60_000);

  it('draws the delta heatmap and the leaderboard scores', async () => {
    const heat = deltaHeatmap({
      rows: ['step-100', 'step-200'],
      columns: ['capitalisation', 'copying'],
      cells: [
        { checkpoint: 'step-100', suite: 'capitalisation', delta: -0.1 },
        { checkpoint: 'step-100', suite: 'copying', delta: 0.05 },
        { checkpoint: 'step-200', suite: 'capitalisation', delta: -0.8 },
        { checkpoint: 'step-200', suite: 'copying', delta: -0.3 },
      ],
    });
    expect(await render('heatmap', heat)).toBeGreaterThan(2000);
    const scores = leaderboardScores({
      versions: [
        { label: 'assistant v1', suite: 'capitalisation', score: 0.0, low: 0.0, high: 0.1 },
        { label: 'assistant v2', suite: 'capitalisation', score: 0.8, low: 0.65, high: 0.93 },
      ],
    });
    expect(await render('scores', scores)).toBeGreaterThan(200);
  }, 60_000);

  it('an empty spec draws nothing, so the counts above mean something', async () => {
    expect(
      await render('empty', {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        data: { values: [] },
        mark: 'point',
      }),
    ).toBeLessThan(50);
  }, 60_000);
});
