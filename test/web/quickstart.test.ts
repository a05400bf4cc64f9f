import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPage } from '../helpers/browser.ts';
import { startLiveServer } from '../helpers/live-server.ts';

/**
 * The quickstart as a newcomer meets it: an empty server's first screen offers it, a click starts
 * the short run (the same flow as `heldout quickstart --short`), and the page follows four real
 * fine-tunes on the shipped base, evaluated checkpoint by checkpoint, to the end of the story:
 * the full fine-tune learned the domain but forgot and was blocked with evidence; an adapter kept
 * its skills and is at production; DPO ran on top of the LoRA adapter.
 */
const token = 'hld_quickstart-ui-admin-token-0123';
const shots =
  process.env.HELDOUT_SCREENSHOTS ?? fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-quickstart-'));
let live: Awaited<ReturnType<typeof startLiveServer>>;
let browser: Browser;
let page: Page;
let consoleErrors: string[];

beforeAll(async () => {
  ({ browser, page, consoleErrors } = await openPage());
  live = await startLiveServer(token, { worker: true });
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await live?.close();
});

interface Row {
  method: string;
  aliases: string[];
  scores: Record<string, { value: number; delta: number | null }>;
  retention: number | null;
}

describe('the quickstart, started from the UI of an empty server', () => {
  it('ends with the full fine-tune blocked, an adapter at production and DPO on top of LoRA', async () => {
    await page.goto(`${live.server.url}/#token=${token}`);
    await page.click('[data-testid="start-short"]');
    // The page follows the runs: one progress bar per run as each starts.
    await page.waitForSelector('[data-testid="quickstart"] progress', { timeout: 60_000 });
    await page.waitForSelector('h2:text("Quickstart: finished"), h2:text("Quickstart: failed")', {
      timeout: 540_000,
    });
    await page.screenshot({ path: path.join(shots, 'quickstart.png'), fullPage: true });
    const panel = page.locator('[data-testid="quickstart"]');
    // Once the quickstart runs, the page no longer says there is nothing here.
    expect(await page.locator('[data-testid="empty-projects"]').count()).toBe(0);
    expect(await panel.locator('.error').count(), await panel.innerText()).toBe(0);
    const bars = await panel.locator('.progress').allInnerTexts();
    expect(bars.map((b) => b.trim().split(':')[0])).toEqual([
      'full-finetune',
      'lora-r8-replay',
      'ia3',
      'dpo-on-lora',
    ]);
    expect(bars.every((b) => b.endsWith('finished'))).toBe(true);

    // `heldout gate`'s own output for every version; the refusal is open, with its evidence.
    const gates = panel.locator('[data-testid="quickstart-gate"]');
    expect(await gates.count()).toBe(4);
    const full = gates.filter({ hasText: '(full): exit 1' });
    expect(await full.getAttribute('open')).not.toBeNull();
    const evidence = await full.locator('pre').innerText();
    expect(evidence).toMatch(/capitalisation|copying/);
    expect(evidence).toMatch(/95% CI/);
    const promoted = (await panel.innerText()).match(/support-assistant v(\d+) \((\S+)\) is at/);
    expect(promoted, await panel.innerText()).not.toBeNull();
    expect(promoted![2]).not.toBe('full');
    const alias = await live.client.models.alias('bank-support', 'support-assistant', 'production');
    expect(alias.version).toBe(Number(promoted![1]));

    // The leaderboard tells the story: the full fine-tune learned the domain and lost the most
    // on retention; the production row is an adapter.
    await panel.locator('a', { hasText: 'bank-support leaderboard' }).click();
    await page.waitForSelector('[data-testid="leaderboard"] tbody tr');
    expect(
      await page.locator('tr:has(.badge.alias:text("@production")) .badge.method').innerText(),
    ).toBe(promoted![2]);
    const board = (await (
      await live.client.raw('GET', '/projects/bank-support/leaderboard')
    ).json()) as { rows: Row[] };
    const byMethod = Object.fromEntries(board.rows.map((r) => [r.method, r]));
    expect(Object.keys(byMethod).sort()).toEqual(['full', 'lora', 'peft:ia3', 'rlhf:dpo']);
    expect(byMethod.full!.scores.fees!.delta).toBeGreaterThan(0);
    expect(byMethod.full!.retention!).toBeLessThan(byMethod[promoted![2]!]!.retention!);
    expect(byMethod['rlhf:dpo']!.retention!).toBeGreaterThan(byMethod.full!.retention!);

    // DPO started from LoRA's last checkpoint and produced an adapter on the shipped base.
    const { runs } = await live.client.runs.search('bank-support');
    const named = (name: string) => runs.find((r) => r.name === name)!;
    const loraCheckpoints = await live.client.checkpoints.list(named('lora-r8-replay').id);
    const dpo = named('dpo-on-lora');
    expect(dpo).toMatchObject({
      baseCheckpointId: loraCheckpoints.at(-1)!.id,
      parentRunId: named('lora-r8-replay').id,
    });
    const [dpoCheckpoint] = (await live.client.checkpoints.list(dpo.id)).slice(-1);
    expect(dpoCheckpoint!.kind).toBe('adapter');
    expect(consoleErrors).toEqual([]);
  }, 600_000);
});
