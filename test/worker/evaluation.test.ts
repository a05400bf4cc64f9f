import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HeldoutClient } from '../../server/client/index.ts';
import {
  feePlans,
  jsonl,
  startLiveServer,
  trainedCheckpoint,
  waitFor,
} from '../helpers/live-server.ts';

const token = 'hld_evaluation-test-admin-token';
const suitesDir = fileURLToPath(new URL('../../plugins/model/base/suites', import.meta.url));
let live: Awaited<ReturnType<typeof startLiveServer>>;
let client: HeldoutClient;
let faq: number;
let faqValid: number;

beforeAll(async () => {
  live = await startLiveServer(token, { worker: true });
  client = live.client;
  await client.projects.create({ name: 'support' });
  faq = (await client.datasets.upload('support', 'faq', 'sft', jsonl(feePlans(0, 64)))).id;
  faqValid = (await client.datasets.upload('support', 'faq-valid', 'sft', jsonl(feePlans(200, 16))))
    .id;
}, 60_000);
afterAll(() => live?.close());

/** The evaluations of a checkpoint once every one of them has ended. */
const evaluated = (checkpointId: string, count: number) =>
  waitFor(
    `the evaluations of ${checkpointId}`,
    async () => {
      const list = await client.evaluations.ofCheckpoint(checkpointId);
      return list.length >= count && list.every((e) => ['finished', 'failed'].includes(e.status))
        ? list
        : undefined;
    },
    120_000,
  );

const train = (plugin: string, config: Record<string, unknown>, data = faq) =>
  trainedCheckpoint(client, 'support', {
    plugin,
    config,
    datasets: [
      { datasetVersionId: data, role: 'train' },
      { datasetVersionId: faqValid, role: 'validation' },
    ],
  });

describe('every checkpoint is evaluated on every active suite', () => {
  it('scores the base once per suite version, then each new checkpoint, and finds forgetting', async () => {
    const cases = fs
      .readFileSync(path.join(suitesDir, 'capitalisation.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .slice(0, 30);
    const dataset = await client.datasets.upload('support', 'caps', 'eval', cases.join('\n'));
    await client.suites.create('support', { name: 'capitalisation', purpose: 'retention' });
    const version = await client.suites.addVersion('support', 'capitalisation', {
      datasetVersionId: dataset.id,
      metrics: ['exact-match'],
      decoding: { maxNewTokens: 24 },
    });
    expect(version).toMatchObject({ version: 1, caseCount: 30, passThreshold: 1 });

    // The shipped base is a checkpoint of the project, evaluated as soon as the suite exists.
    const suites = await client.suites.list('support');
    expect(suites[0]!.versions).toHaveLength(1);
    // A target suite of plans no honest training row mentions; five of its cases leak into the
    // careless run's training set.
    const target = feePlans(100, 12).map((p, k) => ({
      id: `faq-${k}`,
      input: p.prompt,
      expected: p.response.trim(),
    }));
    const targetData = await client.datasets.upload('support', 'faq-suite', 'eval', jsonl(target));
    await client.suites.create('support', { name: 'faq', purpose: 'target' });
    await client.suites.addVersion('support', 'faq', {
      datasetVersionId: targetData.id,
      metrics: ['exact-match', 'chrf'],
      decoding: { maxNewTokens: 40 },
    });
    const leaked = await client.datasets.upload(
      'support',
      'faq-leaked',
      'sft',
      jsonl([...feePlans(0, 64), ...feePlans(100, 5)]),
    );
    const full = await train(
      'full',
      {
        steps: 150,
        batchSize: 8,
        learningRate: 5e-3,
        warmupSteps: 5,
        validationEvery: 25,
        checkpointEvery: 150,
      },
      leaked.id,
    );
    const tunedAll = await evaluated(full.id, 2);
    const tuned = tunedAll.find((e) => e.suite === 'capitalisation');
    for (const e of tunedAll) expect(e.status, e.error ?? '').toBe('finished');
    expect(tuned!.aggregates!['exact-match']!.n).toBe(30);

    const findings = await waitFor(
      'the findings',
      async () => {
        const list = await client.evaluations.findings(full.id);
        return list.some((f) => f.detector === 'forgetting') ? list : undefined;
      },
      60_000,
    );
    const by = (detector: string) => findings.find((f) => f.detector === detector);
    // Contamination names exactly the leaked cases.
    const contamination = by('contamination')!;
    expect((contamination.evidence.contaminatedIds as string[]).sort()).toEqual([
      'faq-0',
      'faq-1',
      'faq-2',
      'faq-3',
      'faq-4',
    ]);
    // Memorisation is measured on the training rows and reported with its rate.
    const memorisation = by('memorisation')!;
    expect(memorisation.evidence.total).toBeGreaterThan(10);
    expect(memorisation.evidence.rate).toBeGreaterThanOrEqual(0);
    // Its validation loss kept falling (the plans' wording generalises): no overfitting claimed.
    expect(by('overfitting')).toBeUndefined();
    const forgetting = findings.find(
      (f) => f.detector === 'forgetting' && f.evidence.against === 'base',
    )!;
    expect(forgetting.severity).toBe('block');
    // Across the run: backward transfer and Chaudhry's forgetting, the base as the first stage.
    const acrossRun = await waitFor(
      'the run-level forgetting summary',
      async () =>
        (await client.evaluations.findings(full.id)).find(
          (f) => f.detector === 'forgetting' && 'backwardTransfer' in f.evidence,
        ),
      30_000,
    );
    expect(acrossRun.evidence.backwardTransfer as number).toBeLessThan(-0.4);
    expect(acrossRun.evidence.chaudhryForgetting as number).toBeGreaterThan(0.4);
    const evidence = forgetting.evidence as {
      referenceMean: number;
      candidateMean: number;
      passToFail: string[];
    };
    expect(evidence.referenceMean).toBeGreaterThan(0.5);
    expect(evidence.candidateMean).toBeLessThan(evidence.referenceMean / 2);
    expect(evidence.passToFail.length).toBeGreaterThan(5);
    expect(evidence.passToFail[0]).toMatch(/^capitalisation-\d+$/);

    // A checkpoint uploaded from outside (an external run logging through the API) is scored too.
    const external = await client.runs.create('support', { name: 'uploaded-elsewhere' });
    for (const file of ['config.json', 'model.safetensors', 'tokenizer_config.json'])
      await client.artifacts.upload(
        external.id,
        `checkpoints/step-1/${file}`,
        fs.readFileSync(path.join(suitesDir, '..', 'tiny-base', file)),
      );
    const uploaded = await client.checkpoints.register(external.id, { step: 1, kind: 'full' });
    const [scored] = await evaluated(uploaded.id, 2);
    expect(scored!.status, scored!.error ?? '').toBe('finished');

    // An adapter is evaluated on its base, applied on the fly; a gentle one keeps the skill.
    const lora = await train('lora', {
      steps: 20,
      batchSize: 8,
      learningRate: 2e-3,
      warmupSteps: 2,
      checkpointEvery: 20,
    });
    const [adapter] = await evaluated(lora.id, 1);
    expect(adapter!.status, adapter!.error ?? '').toBe('finished');
    expect(adapter!.aggregates!['exact-match']!.value).toBeGreaterThan(0.5);
    const adapterFindings = await client.evaluations.findings(lora.id);
    expect(adapterFindings.filter((f) => f.severity === 'block')).toEqual([]);
  }, 400_000);

  it('raises overfitting on an over-trained tiny dataset and names the best checkpoint', async () => {
    const tiny = await client.datasets.upload('support', 'faq-tiny', 'sft', jsonl(feePlans(0, 8)));
    const checkpoint = await train(
      'full',
      {
        steps: 120,
        batchSize: 8,
        learningRate: 5e-3,
        warmupSteps: 5,
        validationEvery: 10,
        checkpointEvery: 20,
      },
      tiny.id,
    );
    const findings = await client.evaluations.findings(checkpoint.id);
    const overfitting = findings.find((f) => f.detector === 'overfitting');
    const curve = await client.metrics.history(checkpoint.runId!, 'validation/loss');
    expect(overfitting, JSON.stringify(curve)).toBeDefined();
    const evidence = overfitting!.evidence as { bestStep: number; bestCheckpointStep: number };
    const values = curve.values as number[];
    // The best step is where validation loss was lowest, and the named checkpoint is its nearest.
    expect(evidence.bestStep).toBe(curve.steps[values.indexOf(Math.min(...values))]);
    expect(Math.abs(evidence.bestCheckpointStep - evidence.bestStep)).toBeLessThanOrEqual(10);
    // Eight rows seen fifteen times each: how much of them it now recites is reported.
    const memorisation = await waitFor(
      'the memorisation rate',
      async () =>
        (await client.evaluations.findings(checkpoint.id)).find(
          (f) => f.detector === 'memorisation',
        ),
      120_000,
    );
    expect(memorisation.evidence.total).toBe(8);
    expect(memorisation.evidence.rate).toBeGreaterThan(0.5);
  }, 300_000);

  it('refuses suites that could never be evaluated, naming the field', async () => {
    const sft = await client.datasets.upload(
      'support',
      'not-eval',
      'sft',
      jsonl([{ prompt: 'a', response: 'b' }]),
    );
    await client.suites.create('support', { name: 'bad', purpose: 'target' });
    await expect(
      client.suites.addVersion('support', 'bad', { datasetVersionId: sft.id, metrics: ['bleu'] }),
    ).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/datasetVersionId/) });
    await expect(
      client.suites.addVersion('support', 'bad', {
        datasetVersionId: sft.id,
        metrics: ['no-such-metric' as 'bleu'],
      }),
    ).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/metrics/) });
    await expect(
      client.suites.create('support', { name: 'bad', purpose: 'target' }),
    ).rejects.toMatchObject({ status: 409 });
  });
});
