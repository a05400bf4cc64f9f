/**
 * `npm run bench -- ui [runs]`: how long the UI takes, in Debian's Chromium, from navigation to
 * a painted chart or table, on a `heldout serve` child process:
 * - the run page of a run with 1,000,000 logged loss points (target: loss chart drawn < 1.5 s);
 * - the leaderboard of 1,000 model versions × 20 suites, all on one page (target: < 1 s).
 * Each is loaded `runs` times (default 7) after one warm-up load; medians are the figures.
 */
import { chromium } from 'playwright-core';
import { benchDatabase } from './_database.ts';
import { benchServer, summarise } from './_server.ts';
import { seedLeaderboard } from '../helpers/leaderboard-seed.ts';

const POINTS = 1_000_000;
const BATCH = 10_000;

export default async function ui(args: string[]) {
  const runs = Number(args[0] ?? 7);
  const database = await benchDatabase();
  const server = await benchServer(database.url);
  const browser = await chromium.launch({
    executablePath: process.env.HELDOUT_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
  try {
    const { client } = server;
    await client.projects.create({ name: 'curve' });
    const run = await client.runs.create('curve', { name: 'million' });
    const ingestStart = performance.now();
    // Two requests in flight: the way a training loop's logger pipelines its batches.
    let next = 0;
    await Promise.all(
      [0, 1].map(async () => {
        while (next < POINTS / BATCH) {
          const b = next++;
          await client.metrics.log(
            run.id,
            Array.from({ length: BATCH }, (_, k) => {
              const step = b * BATCH + k + 1;
              return {
                key: 'train/loss',
                step,
                value: 2 * Math.exp(-step / 200_000) + 0.05 * Math.sin(step / 7),
                timestamp: 1_700_000_000_000 + step * 50,
              };
            }),
          );
        }
      }),
    );
    const ingestSeconds = (performance.now() - ingestStart) / 1000;

    const board = await client.projects.create({ name: 'board' });
    await seedLeaderboard(database.url, board.id, 1000, 20);

    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${server.url}/#token=${server.token}`);
    await page.waitForSelector('[data-testid="projects"]');

    // Each load is a fresh navigation; the page stamps the moment its chart or table was drawn
    // (ms since navigation began), which is what a user waits for. The wall time seen from here
    // also includes Playwright's polling and whatever the page does after drawing.
    const load = async (path: string, ready: string, stamp: string) => {
      const t0 = performance.now();
      await page.goto(`${server.url}${path}`, { waitUntil: 'commit' });
      const el = await page.waitForSelector(ready, { timeout: 60_000 });
      const wall = performance.now() - t0;
      return { inPage: Number(await el.getAttribute(stamp)), wall };
    };
    const measure = async (path: string, ready: string, stamp: string) => {
      await load(path, ready, stamp); // warm-up: the bundle, query plans
      const samples = [];
      for (let i = 0; i < runs; i++) samples.push(await load(path, ready, stamp));
      return {
        drawn: summarise(samples.map((x) => x.inPage)),
        observed: summarise(samples.map((x) => x.wall)),
      };
    };
    const lossChart = await measure(
      `/p/curve/runs/${run.id}`,
      '[data-testid="loss-chart"][data-rendered]',
      'data-rendered',
    );
    const leaderboard = await measure(
      '/p/board?limit=1000',
      '[data-testid="leaderboard"][data-painted]',
      'data-painted',
    );
    const withChart = await measure(
      '/p/board?limit=1000',
      '[data-testid="leaderboard-chart"][data-rendered]',
      'data-rendered',
    );
    const rows = Number(
      await page.locator('[data-testid="leaderboard"] tbody').getAttribute('data-rows'),
    );
    // Windowed rows: scrolling to the end draws the last rank.
    await page.evaluate(`(() => {
      const table = document.querySelector('[data-testid="leaderboard"]');
      window.scrollTo(0, table.getBoundingClientRect().bottom + scrollY - innerHeight);
    })()`);
    await page.waitForSelector('[data-testid="leaderboard"] tr[data-index="999"]');
    const cells = await page
      .locator('[data-testid="leaderboard"] tr[data-index="999"] td.score')
      .count();
    return {
      runs,
      lossChart: {
        points: POINTS,
        ingestSeconds: Number(ingestSeconds.toFixed(1)),
        ...lossChart,
        targetMs: 1500,
        meetsTarget: lossChart.drawn.medianMs < 1500,
      },
      leaderboard: {
        versions: rows,
        suitesOnLastRow: cells,
        table: { ...leaderboard, targetMs: 1000, meetsTarget: leaderboard.drawn.medianMs < 1000 },
        scoresChart: withChart,
      },
    };
  } finally {
    await browser.close();
    await server.stop();
    await database.dispose();
  }
}
