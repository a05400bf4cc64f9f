/**
 * `heldout gate`: the release-pipeline step. Judges a model version with a gate on the server,
 * optionally promotes it, writes CI reports, and says what happened in its exit code.
 */
import { appendFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { renderJUnit, renderMarkdownSummary } from '../evaluators/gates/report.ts';
import type { CheckResult, Verdict } from '../evaluators/gates/types.ts';
import { HeldoutApiError, HeldoutClient } from './client/index.ts';
import type { VerdictBody } from './schemas/registry.ts';

/**
 * What `heldout gate` exits with. Nothing evaluated is never a pass: it is `noData`.
 *
 * @example
 * if (code === GATE_EXIT.noData) console.log('evaluate the candidate first');
 */
export const GATE_EXIT = { pass: 0, fail: 1, usage: 2, infrastructure: 3, noData: 4 } as const;
type ExitCode = (typeof GATE_EXIT)[keyof typeof GATE_EXIT];

export const GATE_USAGE = `heldout gate --server URL --token TOKEN --project P --model NAME --candidate VERSION
             --gate NAME [--promote ALIAS] [--junit FILE] [--summary FILE] [--wait [SECONDS]]
                       judge a model version with a gate (and promote it on a pass); exits
                       0 pass, 1 fail, 2 usage or config, 3 server unreachable, 4 no data`;

const DEFAULT_WAIT_S = 600;
const POLL_MS = 2_000;
const REQUEST_TIMEOUT_MS = 30_000;
const PENDING = new Set(['queued', 'running']);

/** A decided exit, with the line for stderr. */
class GateExit extends Error {
  constructor(
    readonly code: ExitCode,
    message: string,
  ) {
    super(message);
  }
}

export interface GateIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
}

const defaultIo: GateIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
};

// `--wait` takes an optional number, which parseArgs cannot express: a bare one becomes the default.
const normaliseWait = (argv: string[]) =>
  argv.map((arg, i) =>
    arg === '--wait' && !/^\d+$/.test(argv[i + 1] ?? '') ? `--wait=${DEFAULT_WAIT_S}` : arg,
  );

function parse(argv: string[], env: GateIo['env']) {
  let values;
  try {
    values = parseArgs({
      args: normaliseWait(argv),
      options: {
        server: { type: 'string', default: env.HELDOUT_SERVER },
        token: { type: 'string', default: env.HELDOUT_TOKEN },
        project: { type: 'string' },
        model: { type: 'string' },
        candidate: { type: 'string' },
        gate: { type: 'string' },
        promote: { type: 'string' },
        junit: { type: 'string' },
        summary: { type: 'string' },
        wait: { type: 'string' },
      },
    }).values;
  } catch (err) {
    throw new GateExit(GATE_EXIT.usage, (err as Error).message);
  }
  const usage = (message: string) => new GateExit(GATE_EXIT.usage, `gate: ${message}`);
  if (!values.server) throw usage('needs --server URL (or HELDOUT_SERVER)');
  if (!/^https?:\/\/./.test(values.server) || !URL.canParse(values.server))
    throw usage(`--server must be an http(s) URL (got ${JSON.stringify(values.server)})`);
  if (!values.token) throw usage('needs --token TOKEN (or HELDOUT_TOKEN)');
  for (const flag of ['project', 'model', 'candidate', 'gate'] as const)
    if (!values[flag]) throw usage(`needs --${flag}`);
  if (!/^[1-9]\d*$/.test(values.candidate!))
    throw usage(`--candidate must be a version number (got ${JSON.stringify(values.candidate)})`);
  if (values.wait !== undefined && !/^\d+$/.test(values.wait))
    throw usage(`--wait takes a number of seconds (got ${JSON.stringify(values.wait)})`);
  return {
    server: values.server,
    token: values.token,
    project: values.project!,
    model: values.model!,
    version: Number(values.candidate),
    gate: values.gate!,
    promote: values.promote,
    junit: values.junit,
    summary: values.summary,
    waitS: values.wait === undefined ? undefined : Number(values.wait),
  };
}
type Options = ReturnType<typeof parse>;

/** Server answers as exit codes: what the caller must fix is 2, what the server must fix is 3. */
function apiExit(err: unknown, server: string): GateExit {
  if (err instanceof GateExit) return err;
  if (err instanceof HeldoutApiError) {
    const infra = err.status >= 500 || err.status === 408 || err.status === 429;
    return new GateExit(infra ? GATE_EXIT.infrastructure : GATE_EXIT.usage, err.message);
  }
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError')
    return new GateExit(GATE_EXIT.infrastructure, `${server} did not answer within 30 s`);
  const why = e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
  return new GateExit(GATE_EXIT.infrastructure, `cannot reach ${server}: ${why}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The candidate's evaluations, polled until none is queued or running or `waitS` is up. */
async function evaluationsOf(client: HeldoutClient, checkpointId: string, o: Options, io: GateIo) {
  const deadline = Date.now() + (o.waitS ?? 0) * 1000;
  let told = false;
  for (;;) {
    const list = await client.evaluations.ofCheckpoint(checkpointId);
    const pending = list.filter((e) => PENDING.has(e.status));
    if (pending.length === 0) return list;
    const what = `${pending.length} evaluation${pending.length === 1 ? '' : 's'} of version ${o.version} (${pending.map((e) => e.suite).join(', ')})`;
    if (o.waitS === undefined)
      throw new GateExit(GATE_EXIT.noData, `${what} still queued or running; pass --wait`);
    if (Date.now() >= deadline)
      throw new GateExit(GATE_EXIT.noData, `${what} still queued or running after ${o.waitS} s`);
    if (!told) io.stdout(`waiting up to ${o.waitS} s for ${what}\n`);
    told = true;
    await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
  }
}

const MARK = { pass: 'pass', fail: 'FAIL', no_data: 'NO DATA' } as const;

/** The verdict line first, then one line per check. */
function humanSummary(v: VerdictBody, checks: CheckResult[]): string {
  const lines = [
    `gate ${v.gate.name} v${v.gate.version} on ${v.model} v${v.version}: ${MARK[v.outcome]} (${checks.length} check${checks.length === 1 ? '' : 's'}, verdict ${v.id})`,
    ...checks.map((c) => {
      const where = [c.suite, c.metric].filter(Boolean).join(' ');
      return `  ${MARK[c.outcome].padEnd(7)} ${c.path} ${c.kind}${where ? ` ${where}` : ''}: ${c.message}`;
    }),
  ];
  return `${lines.join('\n')}\n`;
}

async function writeReports(o: Options, v: VerdictBody, verdict: Verdict) {
  try {
    if (o.junit) await writeFile(o.junit, renderJUnit(v.gate.name, verdict));
    // Appended: $GITHUB_STEP_SUMMARY collects every step's summary in one file.
    if (o.summary) await appendFile(o.summary, renderMarkdownSummary(v.gate.name, verdict));
  } catch (err) {
    throw new GateExit(GATE_EXIT.usage, `cannot write the report: ${(err as Error).message}`);
  }
}

/**
 * The version of `--gate` that `--promote`'s alias is pinned to, so the verdict is the one the
 * promotion will accept; a protected alias bound to another gate is a usage error, found before
 * any waiting.
 */
async function boundVersion(client: HeldoutClient, o: Options): Promise<number | undefined> {
  const rule = (await client.promotions.protectedAliases(o.project)).find(
    (r) => r.alias === o.promote,
  );
  if (!rule?.protected || !rule.gate) return undefined;
  if (rule.gate.name !== o.gate)
    throw new GateExit(
      GATE_EXIT.usage,
      `"${o.promote}" is protected by gate "${rule.gate.name}" v${rule.gate.version}; run --gate ${rule.gate.name} to promote to it`,
    );
  return rule.gate.version;
}

async function run(o: Options, io: GateIo): Promise<ExitCode> {
  const client = new HeldoutClient({
    baseUrl: o.server,
    token: o.token,
    fetch: (input, init) =>
      fetch(input, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }),
  });
  // Names are checked before any waiting, so a typo fails in a second and not after --wait.
  const model = await client.models.get(o.project, o.model);
  const candidate = model.versions.find((v) => v.version === o.version);
  if (!candidate)
    throw new GateExit(GATE_EXIT.usage, `model "${o.model}" has no version ${o.version}`);
  await client.gates.get(o.project, o.gate);
  const gateVersion = o.promote ? await boundVersion(client, o) : undefined;
  const evaluations = await evaluationsOf(client, candidate.checkpointId, o, io);

  const v = await client.gates.verdict(o.project, o.gate, {
    model: o.model,
    version: o.version,
    alias: o.promote,
    gateVersion,
  });
  const checks = v.checks as unknown as CheckResult[];
  // The reports read the leaves only; the tree is not part of a stored verdict.
  const verdict: Verdict = {
    outcome: v.outcome,
    checks,
    tree: { path: 'root', kind: 'all', outcome: v.outcome },
  };
  io.stdout(humanSummary(v, checks));
  await writeReports(o, v, verdict);

  if (v.outcome === 'fail') throw new GateExit(GATE_EXIT.fail, `gate "${o.gate}" failed`);
  if (v.outcome === 'no_data')
    throw new GateExit(GATE_EXIT.noData, `gate "${o.gate}" lacks data for version ${o.version}`);
  // A policy of findings checks alone passes on nothing; a release still needs something measured.
  const measured = evaluations.filter((e) => e.status === 'finished' && e.caseCount !== 0);
  if (measured.length === 0 || checks.length === 0)
    throw new GateExit(
      GATE_EXIT.noData,
      `version ${o.version} has no finished evaluation with cases: nothing was evaluated`,
    );
  if (!o.promote) return GATE_EXIT.pass;

  try {
    const moved = await client.promotions.promote({
      project: o.project,
      model: o.model,
      version: o.version,
      alias: o.promote,
      verdictId: v.id,
    });
    const from = moved.promotion.fromVersion;
    io.stdout(`promoted: ${o.promote} -> v${o.version}${from === null ? '' : ` (was v${from})`}\n`);
    return GATE_EXIT.pass;
  } catch (err) {
    if (err instanceof HeldoutApiError && err.status === 409)
      throw new GateExit(GATE_EXIT.fail, `promotion refused: ${err.message}`);
    throw err;
  }
}

/**
 * Runs `heldout gate` and resolves with its exit code; never throws.
 *
 * @example
 * process.exitCode = await gateCommand(['--server', url, '--token', t, '--project', 'p',
 *   '--model', 'bot', '--candidate', '3', '--gate', 'release']);
 */
export async function gateCommand(argv: string[], io: GateIo = defaultIo): Promise<ExitCode> {
  let server = '';
  try {
    const options = parse(argv, io.env);
    server = options.server;
    return await run(options, io);
  } catch (err) {
    const exit = apiExit(err, server);
    io.stderr(`heldout: ${exit.message}\n`);
    return exit.code;
  }
}
