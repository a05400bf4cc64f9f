/**
 * `heldout/client`: a small typed client for the heldout HTTP API, used by the worker, the CLI,
 * the tests and anyone logging from TypeScript. Its types come from the same zod schemas that
 * validate requests on the server.
 *
 * @example
 * import { HeldoutClient } from 'heldout/client';
 * const heldout = new HeldoutClient({ baseUrl: 'http://127.0.0.1:4242', token: process.env.HELDOUT_TOKEN });
 * const run = await heldout.runs.create('legal-assistant', { name: 'lora-r8', params: { lr: '3e-4' } });
 * await heldout.metrics.log(run.id, [{ key: 'train/loss', step: 1, value: 2.31 }]);
 */
import { artifactsClient } from './artifacts.ts';
import { datasetsClient } from './datasets.ts';
import { evaluationViewsClient, humanRatingsClient } from './evaluation-views.ts';
import { checkpointsClient, jobsClient } from './jobs.ts';
import { gatesClient, modelsClient, promotionsClient } from './registry.ts';
import { metricsClient, projectsClient, runsClient } from './runs.ts';
import { evaluationsClient, suitesClient } from './suites.ts';
import { tokensClient } from './tokens.ts';
import { createTransport, type ClientOptions } from './transport.ts';

export { HeldoutApiError, type ClientOptions } from './transport.ts';

export class HeldoutClient {
  readonly projects;
  readonly tokens;
  readonly runs;
  readonly metrics;
  readonly artifacts;
  readonly datasets;
  readonly checkpoints;
  readonly jobs;
  readonly suites;
  readonly evaluations;
  readonly evaluationViews;
  readonly humanRatings;
  readonly models;
  readonly gates;
  readonly promotions;
  readonly #transport;

  constructor(options: ClientOptions) {
    const t = createTransport(options);
    this.#transport = t;
    this.projects = projectsClient(t);
    this.tokens = tokensClient(t);
    this.runs = runsClient(t);
    this.metrics = metricsClient(t);
    this.artifacts = artifactsClient(t);
    this.datasets = datasetsClient(t);
    this.checkpoints = checkpointsClient(t);
    this.jobs = jobsClient(t);
    this.suites = suitesClient(t);
    this.evaluations = evaluationsClient(t);
    this.evaluationViews = evaluationViewsClient(t);
    this.humanRatings = humanRatingsClient(t);
    this.models = modelsClient(t);
    this.gates = gatesClient(t);
    this.promotions = promotionsClient(t);
  }

  /** Any API path (as the server hands them out, e.g. a claimed job's dataset paths), raw. */
  raw(method: string, path: string) {
    return this.#transport.raw(method, path);
  }

  /** The server's health; throws HeldoutApiError (503) when its database is down. */
  health() {
    return this.#transport.json<{ status: string; version: string; database: { status: string } }>(
      'GET',
      '/health',
    );
  }
}
