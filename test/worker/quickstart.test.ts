import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runQuickstart, type QuickstartEvent } from '../../server/quickstart/quickstart.ts';
import { startLiveServer } from '../helpers/live-server.ts';

/**
 * The quickstart's short variant, the same flow and the same claims as `heldout quickstart`:
 * four real fine-tunes on the shipped base, evaluated checkpoint by checkpoint; the full one learns
 * the domain but forgets and is blocked with evidence; an adapter keeps its skills and is promoted.
 */
const token = 'hld_quickstart-test-admin-token';
let live: Awaited<ReturnType<typeof startLiveServer>>;
beforeAll(async () => {
  live = await startLiveServer(token, { worker: true });
});
afterAll(() => live?.close());

describe('quickstart (short)', () => {
  it('ends with the full fine-tune blocked and an adapter at production', async () => {
    const events: QuickstartEvent[] = [];
    const result = await runQuickstart(live.client, {
      server: live.server.url,
      token,
      scale: 'short',
      onEvent: (e) => events.push(e),
    });
    expect(result.versions.map((v) => v.method)).toEqual(['full', 'lora', 'peft:ia3', 'rlhf:dpo']);

    const full = result.gates.find((g) => g.method === 'full')!;
    expect(full.exitCode, full.output).toBe(1);
    // The evidence names the retention suite that was forgotten and the size of the drop.
    expect(full.output).toMatch(/capitalisation|copying/);
    expect(full.output).toMatch(/95% CI/);
    expect(result.promoted, JSON.stringify(result.gates)).toBeDefined();
    expect(result.promoted!.method).not.toBe('full');
    const alias = await live.client.models.alias('bank-support', 'support-assistant', 'production');
    expect(alias.version).toBe(result.promoted!.version);

    // The leaderboard tells the story: the full fine-tune learned the domain more than any
    // adapter and lost the most on retention.
    const board = (await (
      await live.client.raw('GET', '/projects/bank-support/leaderboard')
    ).json()) as {
      rows: {
        method: string;
        scores: Record<string, { value: number; delta: number | null }>;
        retention: number | null;
      }[];
    };
    const byMethod = Object.fromEntries(board.rows.map((r) => [r.method, r]));
    expect(Object.keys(byMethod).sort()).toEqual(['full', 'lora', 'peft:ia3', 'rlhf:dpo']);
    expect(byMethod.full!.scores.fees!.delta).toBeGreaterThan(0);
    expect(byMethod.full!.retention!).toBeLessThan(byMethod[result.promoted!.method]!.retention!);
    expect(events.filter((e) => e.kind === 'progress').length).toBeGreaterThan(4);

    // DPO ran on top of the LoRA adapter: it started from LoRA's last checkpoint and produced an
    // adapter that the evaluations applied to the shipped base.
    const lora = result.versions.find((v) => v.method === 'lora')!;
    const dpo = result.versions.find((v) => v.method === 'rlhf:dpo')!;
    const dpoRun = await live.client.runs.get(dpo.run);
    expect(dpoRun).toMatchObject({ baseCheckpointId: lora.checkpointId, parentRunId: lora.run });
    const [dpoCheckpoint] = (await live.client.checkpoints.list(dpo.run)).slice(-1);
    expect(dpoCheckpoint).toMatchObject({ kind: 'adapter', baseCheckpointId: lora.checkpointId });
    expect(byMethod['rlhf:dpo']!.retention!).toBeGreaterThan(byMethod.full!.retention!);
  }, 600_000);
});
