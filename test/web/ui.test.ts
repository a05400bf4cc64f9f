import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPage } from '../helpers/browser.ts';
import { startLiveServer } from '../helpers/live-server.ts';
import { seedLeaderboard } from '../helpers/leaderboard-seed.ts';
import { seedBank } from '../helpers/seeded-project.ts';

/**
 * The leaderboard UI in Debian's Chromium against a server whose runs were really trained and
 * evaluated: click from the leaderboard to a run, to a comparison, to a per-case diff, to the
 * registry, and check that every chart drew something. Screenshots land in HELDOUT_SCREENSHOTS
 * (or a temporary directory).
 */
const token = 'hld_ui-test-admin-token-0123456789';
const shots =
  process.env.HELDOUT_SCREENSHOTS ?? fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-ui-'));
let live: Awaited<ReturnType<typeof startLiveServer>>;
let seeded: Awaited<ReturnType<typeof seedBank>>;
let browser: Browser;
let page: Page;
let consoleErrors: string[];

beforeAll(async () => {
  fs.mkdirSync(shots, { recursive: true });
  ({ browser, page, consoleErrors } = await openPage());
  live = await startLiveServer(token, { worker: true });
  seeded = await seedBank(live.client);
}, 600_000);
afterAll(async () => {
  await browser?.close();
  await live?.close();
});

const shoot = (name: string) =>
  page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });

/** Waits for a chart to paint, then counts its canvas pixels that are not background. */
async function inked(testId: string): Promise<number> {
  await page.waitForSelector(`[data-testid="${testId}"][data-rendered] canvas`, {
    timeout: 30_000,
  });
  return page.evaluate<number>(`(() => {
    const canvas = document.querySelector('[data-testid="${testId}"] canvas');
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    let count = 0;
    for (let i = 0; i < data.length; i += 4)
      if (data[i + 3] > 0 && (data[i] < 240 || data[i + 1] < 240 || data[i + 2] < 240)) count++;
    return count;
  })()`);
}

const texts = (selector: string) => page.locator(selector).allInnerTexts();

describe('the leaderboard UI, clicked through in Chromium', { timeout: 60_000 }, () => {
  it('takes the token from the link `heldout serve` prints, then lists the projects', async () => {
    await page.goto(`${live.server.url}/#token=${token}`);
    await page.waitForSelector('[data-testid="projects"]');
    expect(page.url()).not.toContain('token=');
    expect(await texts('[data-testid="projects"] td a')).toEqual(['bank']);
    await shoot('01-projects');
  });

  it('ranks the model versions with scores, aliases and verdicts, and filters through the URL', async () => {
    await page.click('text=bank');
    await page.waitForSelector('[data-testid="leaderboard"]');
    const rows = page.locator('[data-testid="leaderboard"] tbody tr');
    expect(await rows.count()).toBe(2);
    const production = page.locator('tr:has(.badge.alias:text("@production"))');
    expect(await production.locator('.badge.verdict').innerText()).toBe('pass');
    expect(await production.locator('.badge.method').innerText()).toBe('lora');
    // Both suites appear as columns with a score and a delta vs the base.
    const headers = await texts('[data-testid="leaderboard"] thead th');
    expect(headers.join(' ')).toMatch(/capitalisation[\s\S]*fees/);
    expect(await production.locator('td.score').count()).toBe(2);
    expect(await inked('leaderboard-chart')).toBeGreaterThan(500);
    await shoot('02-leaderboard');

    await page.selectOption('select[name="method"]', 'lora');
    await page.waitForURL(/method=lora/);
    await expect.poll(() => page.locator('[data-testid="leaderboard"] tbody tr').count()).toBe(1);
    await page.reload();
    await page.waitForSelector('[data-testid="leaderboard"]');
    expect(await rows.count()).toBe(1);
    await page.selectOption('select[name="method"]', '');
    await expect.poll(() => page.locator('[data-testid="leaderboard"] tbody tr').count()).toBe(2);

    await page.click('button:text("normalised")');
    await page.waitForURL(/scores=normalised/);
  });

  it('opens a run: loss chart with checkpoints, evaluations per checkpoint, heatmap, log', async () => {
    await page.click('[data-testid="leaderboard"] a:text("assistant v1")');
    await page.waitForURL(new RegExp(`/runs/${seeded.runs.full}`));
    expect(await inked('loss-chart')).toBeGreaterThan(1000);
    expect(await inked('delta-heatmap')).toBeGreaterThan(200);
    expect(await page.locator('[data-testid="checkpoints"] tbody tr').count()).toBe(2);
    expect(await page.locator('[data-testid="run-status"]').innerText()).toBe('finished');
    expect(await page.locator('[data-testid="run-log"]').innerText()).toMatch(/finished/);
    expect(await page.locator('[data-testid="params"]').innerText()).toMatch(/lr\s+5e-3/);
    await shoot('03-run');

    // Dragging across the chart zooms: the window goes into the URL and the server re-buckets it.
    const box = (await page.locator('[data-testid="loss-chart"] canvas').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.35, box.y + box.height * 0.5);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.5, { steps: 5 });
    await page.mouse.up();
    await page.waitForURL(/from=\d+&to=\d+/);
    const zoom = new URL(page.url()).searchParams;
    expect(Number(zoom.get('from'))).toBeLessThan(Number(zoom.get('to')));
    await page.locator('button:text("reset zoom")').waitFor();
    expect(await inked('loss-chart')).toBeGreaterThan(1000);
    await page.click('button:text("reset zoom")');
    await page.waitForURL((url) => !url.searchParams.has('from'));

    // State in the URL: another x axis and smoothing survive a reload.
    await page.selectOption('select[name="x"]', 'relative');
    await page.waitForURL(/x=relative/);
    await page.reload();
    expect(await inked('loss-chart')).toBeGreaterThan(1000);
    expect(await page.locator('select[name="x"]').inputValue()).toBe('relative');
  });

  it('compares the two runs, then diffs their evaluations case by case', async () => {
    await page.goto(`${live.server.url}/p/bank`);
    await page.waitForSelector('[data-testid="leaderboard"]');
    for (const box of await page
      .locator('[data-testid="leaderboard"] tbody input[type="checkbox"]')
      .all()) {
      await box.check();
      await page.waitForURL(/sel=/);
    }
    await expect
      .poll(() => page.locator('[data-testid="leaderboard"] tbody input:checked').count())
      .toBe(2);
    await page.click('[data-testid="compare-selected"]');
    await page.waitForSelector('[data-testid="compare-table"]');
    const table = await page.locator('[data-testid="compare-table"]').innerText();
    expect(table).toMatch(/params\.method\s+full\s+lora|params\.method\s+lora\s+full/);
    // Differences only: a param both runs share is hidden until asked for.
    expect(table).not.toMatch(/status/);
    expect(await inked('compare-chart')).toBeGreaterThan(500);
    await shoot('04-compare');

    await page.locator('[data-testid="eval-diff-links"] a').first().click();
    await page.waitForSelector('[data-testid="diff-summary"]');
    expect(await page.locator('[data-testid="diff-summary"]').innerText()).toMatch(/cases/);
    await page.click('button:text("all")');
    await page.waitForSelector('[data-testid="diff-cases"] tbody tr');
    expect(await page.locator('[data-testid="diff-cases"] tbody tr').count()).toBeGreaterThan(0);
    await shoot('05-diff');
  });

  it('shows the registry with the promotion and its gate report', async () => {
    await page.click('nav a:text("Registry")');
    await page.waitForSelector('[data-testid="promotions"]');
    expect(await page.locator('[data-testid="promotions"]').innerText()).toMatch(
      /@production\s+\(new\) → v2\s*pass/,
    );
    expect(await page.locator('[data-testid="protected-aliases"]').innerText()).toBe(
      '@production: protected by gate release v1',
    );
    await page.click('[data-testid="promotions"] summary');
    await page.waitForSelector('.checks');
    expect(await page.locator('.checks').first().innerText()).toMatch(/change · capitalisation/);
    // The refused candidate is on record with the evidence that refused it, open by default.
    const refused = page.locator('[data-testid="verdicts"] li[data-outcome="fail"]');
    expect(await refused.innerText()).toMatch(/^v1 judged by release v1\s*fail/);
    expect(await refused.locator('.checks').innerText()).toMatch(
      /change · capitalisation · exact-match\s+fail\s+Mean exact-match on 'capitalisation'/,
    );
    await shoot('06-registry');
  });

  it('shows datasets with cleaning reports, suites with contamination, and rates outputs', async () => {
    await page.click('nav a:text("Datasets")');
    await page.waitForSelector('section[data-dataset="faq"]');
    await page.click('section[data-dataset="faq"] summary');
    await page.waitForSelector('section[data-dataset="faq"] li');
    expect(await page.locator('section[data-dataset="faq"]').innerText()).toMatch(/64 rows/);

    await page.click('nav a:text("Suites")');
    await page.waitForSelector('[data-testid="suites"]');
    // The target suite's cases are training rows: the contamination detector said so.
    expect(await page.locator('[data-testid="findings"]').innerText()).toMatch(/contamination/);
    await shoot('07-suites');

    await page.click('nav a:text("Human eval")');
    await page.selectOption('select[name="suite"]', 'capitalisation');
    await page.selectOption('select[name="a"]', { label: 'lora-gentle @ step 20 · v1' });
    const rate = async (rating: number) => {
      const card = page.locator(
        '[data-testid="rate-cases"] .case-card[data-case="capitalisation-0"]',
      );
      await card.locator(`button:text("${rating}")`).click();
      await card.locator(`text=saved: ${rating}`).waitFor();
    };
    await rate(4);
    await page.reload();
    await page.waitForSelector('[data-testid="human-score"]');
    expect(await page.locator('[data-testid="human-score"]').innerText()).toMatch(
      /human rating 4\.00 .*1 cases rated/,
    );
    // The careless fine-tune's answer to the same case rated lower: a preference, chosen vs rejected.
    await page.selectOption('select[name="a"]', { label: 'full-careless @ step 60 · v1' });
    await rate(1);
    const status = page.locator('[data-testid="preference-status"]');
    await page.click('button:text("Ratings → preferences")');
    await expect.poll(() => status.innerText()).toMatch(/1 preferences recorded from ratings/);
    await shoot('08-human');

    await page.click('button:text("rank two")');
    await page.waitForSelector('[data-testid="rank-cases"] .case-card');
    const pair = page.locator('[data-testid="rank-cases"] .case-card').first();
    await pair.locator('button:text("left is better")').click();
    await pair.locator('text=recorded').waitFor();
    await page.click('button:text("Cut a preference dataset")');
    await expect
      .poll(() => status.innerText())
      .toMatch(/dataset capitalisation-preferences v1: 2 rows/);
    await shoot('08b-rank');
  });

  it('follows a run while it trains, without a reload', async () => {
    const run = await live.client.runs.create('bank', {
      name: 'lora-long',
      plugin: 'lora',
      config: {
        steps: 400,
        batchSize: 4,
        learningRate: 1e-3,
        checkpointEvery: 400,
        validationEvery: 100,
      },
      datasets: seeded.datasets,
    });
    await page.goto(`${live.server.url}/p/bank/runs/${run.id}`);
    const progress = page.locator('[data-testid="run-progress"]');
    await progress.waitFor({ timeout: 60_000 });
    const stepOf = async () => Number(/step (\d+) of 400/.exec(await progress.innerText())![1]);
    const first = await stepOf();
    await expect.poll(stepOf, { timeout: 30_000 }).toBeGreaterThan(first);
    expect(await inked('loss-chart')).toBeGreaterThan(100);
    expect(await page.locator('[data-testid="run-status"]').innerText()).toBe('running');
    await shoot('09-live');
    await live.client.runs.update(run.id, { status: 'cancelled' });
    await expect
      .poll(() => page.locator('[data-testid="run-status"]').innerText(), { timeout: 30_000 })
      .toBe('cancelled');
  });

  it('draws a board of hundreds of versions a screenful at a time', async () => {
    const big = await live.client.projects.create({ name: 'big' });
    await seedLeaderboard(live.database.url, big.id, 300, 4);
    await page.goto(`${live.server.url}/p/big?limit=1000`);
    const body = page.locator('[data-testid="leaderboard"] tbody[data-rows="300"]');
    await body.waitFor();
    const drawn = () => body.locator('tr[data-index]').count();
    expect(await drawn()).toBeLessThan(100);
    expect(await body.locator('tr[data-index="0"] td.score').count()).toBe(4);
    await page.evaluate(`(() => {
      const table = document.querySelector('[data-testid="leaderboard"]');
      window.scrollTo(0, table.getBoundingClientRect().bottom + scrollY - innerHeight);
    })()`);
    await body.locator('tr[data-index="299"]').waitFor();
    expect(await drawn()).toBeLessThan(100);
    expect(await body.locator('tr[data-index="0"]').count()).toBe(0);
    // Ranked best first: the last row ranks lowest.
    const rank = async (i: number) =>
      Number(
        await body
          .locator(`tr[data-index="${i}"] td:nth-child(2)`)
          .innerText()
          .then((t) => t.split(' ')[0]),
      );
    expect(await rank(299)).toBeGreaterThan(await rank(280));
  });

  it('tells a new user what to do on an empty project', async () => {
    await live.client.projects.create({ name: 'fresh' });
    await page.goto(`${live.server.url}/p/fresh`);
    await page.waitForSelector('[data-testid="empty-leaderboard"]');
    await page.click('nav a:text("Runs")');
    await page.waitForSelector('[data-testid="empty-runs"]');
    await page.click('nav a:text("Registry")');
    await page.waitForSelector('[data-testid="empty-registry"]');
    expect(consoleErrors).toEqual([]);
  });

  it('serves the page with a strict content security policy and asks for a token when it has none', async () => {
    const res = await fetch(`${live.server.url}/p/bank/runs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toMatch(/script-src 'self'(;|$)/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const anonymous = await browser.newPage();
    await anonymous.goto(`${live.server.url}/p/bank`);
    await anonymous.waitForSelector('form.token-form');
    expect(await anonymous.locator('.empty h2').innerText()).toMatch(/needs an API token/);
    await anonymous.close();
  });
});
