import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HeldoutClient } from '../../server/client/index.ts';
import { feePlans, jsonl, trainedCheckpoint } from './live-server.ts';
import { evaluated } from '../../server/quickstart/quickstart.ts';

const suitesDir = fileURLToPath(new URL('../../plugins/model/base/suites', import.meta.url));

/**
 * A project built the way a user builds one, through the API with a real worker: fee-plan SFT data,
 * a target suite on held-out plans and a retention suite on the base's capitalisation skill, a
 * release gate, a careless full fine-tune and a gentle LoRA one (each evaluated checkpoint by
 * checkpoint), both registered; the full one refused by the gate, the LoRA one promoted to
 * `production` through it.
 */
export async function seedBank(client: HeldoutClient, project = 'bank') {
  await client.projects.create({ name: project, description: 'fee-plan assistant' });
  const train = await client.datasets.upload(project, 'faq', 'sft', jsonl(feePlans(0, 64)));
  const valid = await client.datasets.upload(project, 'faq-valid', 'sft', jsonl(feePlans(200, 16)));
  const datasets = [
    { datasetVersionId: train.id, role: 'train' as const },
    { datasetVersionId: valid.id, role: 'validation' as const },
  ];
  const caps = fs
    .readFileSync(path.join(suitesDir, 'capitalisation.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .slice(0, 20);
  const retention = await client.datasets.upload(project, 'caps', 'eval', caps.join('\n'));
  const fees = await client.datasets.upload(
    project,
    'fees-eval',
    'eval',
    jsonl(
      feePlans(0, 12).map((r, i) => ({ id: `fee-${i}`, input: r.prompt, expected: r.response })),
    ),
  );
  // Fee answers are sentences: token F1 gives the partial credit exact match would not.
  for (const [name, purpose, version, metric, passThreshold] of [
    ['capitalisation', 'retention', retention.id, 'exact-match', 1],
    ['fees', 'target', fees.id, 'squad-f1', 0.8],
  ] as const) {
    await client.suites.create(project, { name, purpose });
    await client.suites.addVersion(project, name, {
      datasetVersionId: version,
      metrics: [metric],
      decoding: { maxNewTokens: 24 },
      passThreshold,
    });
  }
  await client.gates.save(project, {
    name: 'release',
    policy: {
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
        { kind: 'no_blocking_findings' },
      ],
    },
  });
  await client.models.create(project, { name: 'assistant' });

  const full = await trainedCheckpoint(client, project, {
    name: 'full-careless',
    plugin: 'full',
    config: {
      steps: 60,
      batchSize: 8,
      learningRate: 5e-3,
      warmupSteps: 5,
      checkpointEvery: 30,
      validationEvery: 10,
    },
    datasets,
    params: { method: 'full', lr: '5e-3' },
  });
  const lora = await trainedCheckpoint(client, project, {
    name: 'lora-gentle',
    plugin: 'lora',
    config: {
      steps: 20,
      batchSize: 8,
      learningRate: 2e-3,
      warmupSteps: 2,
      checkpointEvery: 10,
      validationEvery: 5,
    },
    datasets,
    params: { method: 'lora', lr: '2e-3' },
  });
  const versions = [];
  for (const checkpoint of [full, lora]) {
    await evaluated(client, checkpoint.id, 2);
    versions.push(
      await client.models.addVersion(project, 'assistant', { checkpointId: checkpoint.id }),
    );
  }
  // The careless fine-tune forgot its general skills: the gate refuses it, and says why.
  const blocked = await client.promotions
    .promote({
      project,
      model: 'assistant',
      version: versions[0]!.version,
      alias: 'production',
      gate: 'release',
    })
    .then(
      () => {
        throw new Error('the gate let the careless fine-tune through');
      },
      (err: Error) => err,
    );
  const promoted = await client.promotions.promote({
    project,
    model: 'assistant',
    version: versions[1]!.version,
    alias: 'production',
    gate: 'release',
    reason: 'kept its general skills',
  });
  return {
    runs: { full: full.runId!, lora: lora.runId! },
    datasets,
    versions,
    blocked,
    promoted,
  };
}
