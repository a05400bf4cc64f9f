import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HeldoutClient } from '../../server/client/index.ts';
import { feePlans, jsonl, startLiveServer, trainedCheckpoint } from '../helpers/live-server.ts';
import { runCli } from '../helpers/processes.ts';

/**
 * The acceptance of evaluation-first promotion on the shipped base: a careless full fine-tune is
 * blocked by the forgetting gate with the evidence named, a gentle LoRA fine-tune on the same data
 * passes and is promoted, and `heldout gate` answers 1, 0 and 4. (Overfitting, memorisation and
 * contamination findings are exercised in evaluation.test.ts.)
 */
const token = 'hld_promotion-test-admin-token';
const suitesDir = fileURLToPath(new URL('../../plugins/model/base/suites', import.meta.url));
let live: Awaited<ReturnType<typeof startLiveServer>>;
let client: HeldoutClient;
const datasets: { datasetVersionId: number; role: 'train' | 'validation' }[] = [];

const policy = {
  kind: 'all',
  checks: [
    {
      kind: 'change',
      baseline: 'base',
      suite: { purpose: 'retention' },
      metric: 'exact-match',
      direction: 'higher_is_better',
      minAbsoluteChange: -0.15,
    },
    { kind: 'max_regressions', baseline: 'base', suite: { purpose: 'retention' }, max: 6 },
    { kind: 'no_blocking_findings' },
  ],
};

beforeAll(async () => {
  live = await startLiveServer(token, { worker: true });
  client = live.client;
  await client.projects.create({ name: 'bank' });
  const train = await client.datasets.upload('bank', 'faq', 'sft', jsonl(feePlans(0, 64)));
  const valid = await client.datasets.upload('bank', 'faq-valid', 'sft', jsonl(feePlans(200, 16)));
  datasets.push(
    { datasetVersionId: train.id, role: 'train' },
    { datasetVersionId: valid.id, role: 'validation' },
  );
  const caps = fs
    .readFileSync(path.join(suitesDir, 'capitalisation.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .slice(0, 30);
  const retention = await client.datasets.upload('bank', 'caps', 'eval', caps.join('\n'));
  await client.suites.create('bank', { name: 'capitalisation', purpose: 'retention' });
  await client.suites.addVersion('bank', 'capitalisation', {
    datasetVersionId: retention.id,
    metrics: ['exact-match'],
    decoding: { maxNewTokens: 24 },
  });
  await client.gates.save('bank', { name: 'release', policy });
  await client.models.create('bank', { name: 'assistant' });
}, 60_000);
afterAll(() => live?.close());

async function versionOf(plugin: string, config: Record<string, unknown>) {
  const checkpoint = await trainedCheckpoint(client, 'bank', { plugin, config, datasets });
  return (await client.models.addVersion('bank', 'assistant', { checkpointId: checkpoint.id }))
    .version;
}

const gate = (version: number, ...extra: string[]) => {
  const cli = runCli(
    [
      'gate',
      '--server',
      live.server.url,
      '--token',
      token,
      '--project',
      'bank',
      '--model',
      'assistant',
      '--candidate',
      String(version),
      '--gate',
      'release',
      ...extra,
    ],
    {},
  );
  return cli.exited.then(({ code }) => ({ code, stdout: cli.stdout(), stderr: cli.stderr() }));
};

describe('evaluation-first promotion on the shipped base model', () => {
  it('blocks the fine-tune that forgot, promotes the one that kept its skills, and says when it cannot tell', async () => {
    const careless = await versionOf('full', {
      steps: 150,
      batchSize: 8,
      learningRate: 5e-3,
      warmupSteps: 5,
      checkpointEvery: 150,
    });
    const gentle = await versionOf('lora', {
      steps: 20,
      batchSize: 8,
      learningRate: 2e-3,
      warmupSteps: 2,
      checkpointEvery: 20,
    });

    const junit = path.join(live.dir, 'careless.xml');
    const summary = path.join(live.dir, 'summary.md');
    const blocked = await gate(
      careless,
      '--promote',
      'production',
      '--wait',
      '240',
      '--junit',
      junit,
      '--summary',
      summary,
    );
    expect(blocked.code, blocked.stderr + blocked.stdout).toBe(1);
    // The evidence is one CI log away: the retention suite, the drop with its interval, the flips.
    expect(blocked.stdout).toMatch(/capitalisation/);
    expect(blocked.stdout).toMatch(/95% CI [\d.]+\.\.[\d.]+/);
    const report = fs.readFileSync(junit, 'utf8');
    expect(report).toMatch(/<failure/);
    expect(report).toMatch(/capitalisation-\d+/);
    expect(fs.readFileSync(summary, 'utf8')).toMatch(/^## ❌/);
    const detail = await client.models.get('bank', 'assistant');
    expect(detail.aliases.find((a) => a.alias === 'production')).toBeUndefined();
    const promotions = await client.raw('GET', '/projects/bank/models/assistant/promotions');
    expect(((await promotions.json()) as { promotions: unknown[] }).promotions).toEqual([]);

    const passed = await gate(gentle, '--promote', 'production', '--wait', '240');
    expect(passed.code, passed.stderr + passed.stdout).toBe(0);
    const alias = await client.models.alias('bank', 'assistant', 'production');
    expect(alias.version).toBe(gentle);

    // A version nobody has evaluated yet: suites retired, a new checkpoint has nothing to show.
    await client.suites.setActive('bank', 'capitalisation', false);
    const unevaluated = await versionOf('full', { steps: 2, warmupSteps: 1, checkpointEvery: 2 });
    const unknown = await gate(unevaluated);
    expect(unknown.code, unknown.stderr + unknown.stdout).toBe(4);
  }, 600_000);
});
