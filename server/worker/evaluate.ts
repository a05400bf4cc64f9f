/**
 * One evaluation attempt, in the worker's child process like a training: the checkpoint (and, for
 * an adapter, the model it applies to) is fetched, every case of the suite version is generated
 * greedily (or as its decoding says) and scored by the pure suite runner, and the per-case results
 * go back to the server, which stores them and runs the detectors.
 */
import path from 'node:path';
import {
  caseHash,
  memoryCache,
  runSuite,
  type DecodingParams,
  type EvalCase,
  type ModelHandle,
} from '../../evaluators/suite-runner.ts';
import { memorisationProbes } from '../../evaluators/detectors/index.ts';
import type { MetricName } from '../../evaluators/registry.ts';
import * as m from '../../plugins/model/index.ts';
import { CancelledError } from '../../plugins/sdk/index.ts';
import type { HeldoutClient } from '../client/index.ts';
import type { ClaimedEvaluation } from '../schemas/jobs.ts';
import { fetchDataset, modelDir } from './context.ts';

/** Generation for the suite runner: the shipped tokenizer, stop strings cut, adapters on the fly. */
async function localModel(
  client: HeldoutClient,
  job: ClaimedEvaluation,
  workDir: string,
  signal: AbortSignal,
): Promise<ModelHandle & { dispose(): void }> {
  const adapterOnly = job.modelKind === 'adapter';
  const own = await modelDir(client, job.model, path.join(workDir, 'model'));
  const base = adapterOnly
    ? await modelDir(
        client,
        job.adapterBase ?? { kind: 'builtin', name: 'tiny-base' },
        path.join(workDir, 'base'),
      )
    : own;
  const { config, weights } = await m.loadCheckpointDir(base.dir);
  const tokenizer = await m.loadTokenizer(base.dir);
  const model = m.createModel(config, weights, () => false);
  const adapter = adapterOnly ? await m.loadAdapter(own.dir, config) : undefined;
  const prefix = adapter?.options.prefixEmbeddings?.shape[0] ?? 0;
  return {
    checkpointSha256: own.sha256,
    async generate(inputs: string[], decoding: DecodingParams) {
      const maxNewTokens = Math.min(decoding.maxNewTokens ?? 32, config.n_positions - prefix - 1);
      const stops = decoding.stop ?? [];
      // A stop string that is one token ends generation there; longer ones are cut afterwards.
      const stopIds = [
        tokenizer.eosId,
        ...stops
          .map((s) => tokenizer.encode(s))
          .filter((ids) => ids.length === 1)
          .map((ids) => ids[0]!),
      ];
      const out = [];
      for (const input of inputs) {
        // Between cases, so a cancel is heard while a long suite runs.
        await new Promise((resolve) => setImmediate(resolve));
        if (signal.aborted) throw new CancelledError();
        const ids = tokenizer.encode(input).slice(-(config.n_positions - prefix - maxNewTokens));
        const g = m.generate(
          model,
          ids,
          {
            maxNewTokens,
            temperature: decoding.temperature ?? 0,
            topP: decoding.topP ?? 1,
            seed: decoding.seed ?? 0,
            stopIds,
          },
          adapter?.options,
        );
        let text = tokenizer.decode(g.ids.filter((t) => t !== tokenizer.eosId));
        for (const s of stops) {
          const at = text.indexOf(s);
          if (at >= 0) text = text.slice(0, at);
        }
        out.push({ text, tokenLogprobs: g.logprobs });
      }
      return out;
    },
    dispose() {
      adapter?.dispose();
      m.disposeModel(model);
    },
  };
}

/** What a training row asks a model to have learnt: its whole text, prompt and answer together. */
const trainingText = (row: Record<string, unknown>) =>
  typeof row.text === 'string'
    ? row.text
    : `${String(row.prompt ?? '')}${String(row.response ?? row.chosen ?? '')}`;

/**
 * Memorisation: greedy continuations of the first characters of training rows, which the server
 * compares with what followed them in training.
 */
async function probeMemorisation(
  client: HeldoutClient,
  training: NonNullable<ClaimedEvaluation['memorisation']>,
  model: ModelHandle,
) {
  const texts: string[] = [];
  for (const d of training) {
    const split = await fetchDataset(client, { role: 'train', ...d });
    texts.push(...split.rows.map(trainingText));
  }
  const probes = memorisationProbes(texts, { prefixChars: 32, suffixChars: 16, limit: 32 });
  const outputs = await model.generate(
    probes.map((p) => p.prefix),
    { maxNewTokens: 32, temperature: 0, stop: [] },
  );
  return probes.map((p, i) => ({ ...p, continuation: outputs[i]!.text }));
}

export async function runEvaluation(
  client: HeldoutClient,
  job: ClaimedEvaluation,
  opts: { workDir: string; workerId: string; signal: AbortSignal },
): Promise<void> {
  const { evaluation } = job;
  const dataset = await fetchDataset(client, { role: 'eval', kind: 'eval', ...evaluation.dataset });
  const cases = dataset.rows as unknown as EvalCase[];
  const model = await localModel(client, job, opts.workDir, opts.signal);
  try {
    const result = await runSuite({
      model,
      suite: {
        id: evaluation.id,
        purpose: evaluation.purpose,
        cases,
        metrics: evaluation.metrics as MetricName[],
        decoding: evaluation.decoding as DecodingParams,
      },
      cache: memoryCache(),
    });
    const memorisation = job.memorisation
      ? await probeMemorisation(client, job.memorisation, model)
      : undefined;
    await client.evaluations.report(evaluation.id, {
      memorisation,
      workerId: opts.workerId,
      cases: result.cases.map((c, i) => ({
        caseId: c.caseId,
        caseHash: caseHash(cases[i]!),
        output: c.output,
        scores: c.scores as Record<string, number>,
        latencyMs: c.latencyMs,
      })),
      aggregates: result.aggregates as Record<
        string,
        NonNullable<(typeof result.aggregates)[MetricName]>
      >,
      metricVersions: result.metricVersions as Record<string, string>,
    });
  } finally {
    model.dispose();
  }
}
