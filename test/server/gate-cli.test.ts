import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HeldoutClient } from '../../server/client/index.ts';
import type { RunningServer } from '../../server/serve.ts';
import type { TestDatabase } from '../helpers/database.ts';
import { forgettingScenario, releasePolicy } from '../helpers/evidence.ts';
import { startLiveServer } from '../helpers/live-server.ts';
import { runCli } from '../helpers/processes.ts';

const token = 'hld_gate-cli-test-admin-token';
let live: Awaited<ReturnType<typeof startLiveServer>>;
let database: TestDatabase;
let server: RunningServer;
let client: HeldoutClient;
let dir: string;
let scenario: Awaited<ReturnType<typeof forgettingScenario>>;
const versions: Record<string, number> = {};

beforeAll(async () => {
  live = await startLiveServer(token);
  ({ database, server, client, dir } = live);
  const project = await client.projects.create({ name: 'support' });
  scenario = await forgettingScenario(database, project.id);
  const { rows, good, forgot, run1 } = scenario;
  const suiteVersion = async (suite: string) =>
    (
      await database.sql<{ id: number }[]>`
        select sv.id from suite_versions sv join suites s on s.id = sv.suite_id
        where s.project_id = ${project.id} and s.name = ${suite} and sv.version = 1`
    )[0]!.id;
  const [qa, general] = [await suiteVersion('qa'), await suiteVersion('general')];
  const unevaluated = await rows.checkpoint({ runId: run1, step: 200 });
  const pending = await rows.checkpoint({ runId: run1, step: 300 });
  await rows.evaluation(pending, general, [1, 1, 1, 1, 1, 1, 1, 0]);
  await rows.evaluation(pending, qa, [1, 1, 1, 1], 'queued');
  const empty = await rows.checkpoint({ runId: run1, step: 400 });
  await rows.evaluation(empty, qa, []);

  await client.models.create('support', { name: 'bot' });
  for (const [name, checkpointId] of Object.entries({ good, forgot, unevaluated, pending, empty }))
    versions[name] = (await client.models.addVersion('support', 'bot', { checkpointId })).version;
  await client.gates.save('support', { name: 'release', policy: releasePolicy });
}, 60_000);
afterAll(() => live?.close());

const gate = (extra: string[], env: Record<string, string> = {}) => {
  const cli = runCli(
    ['gate', '--server', server.url, '--token', token, '--project', 'support', ...extra],
    env,
  );
  return cli.exited.then(({ code }) => ({ code, stdout: cli.stdout(), stderr: cli.stderr() }));
};
const args = (version: number, ...rest: string[]) => [
  '--model',
  'bot',
  '--candidate',
  String(version),
  '--gate',
  'release',
  ...rest,
];

describe('heldout gate', () => {
  it('exits 0 on a pass and moves the alias with --promote', async () => {
    const junit = path.join(dir, 'pass.xml');
    const r = await gate(args(versions.good!, '--promote', 'production', '--junit', junit));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^gate release v1 on bot v1: pass \(4 checks/);
    expect(r.stdout).toContain('promoted: production -> v1');
    expect(r.stderr).toBe('');
    expect(fs.readFileSync(junit, 'utf8')).not.toContain('<failure');
    // production is protected from the start, and this first promotion bound the gate it ran.
    expect(await client.models.alias('support', 'bot', 'production')).toMatchObject({
      version: 1,
      protected: true,
    });
    expect((await client.promotions.protectedAliases('support'))[0]).toMatchObject({
      alias: 'production',
      gate: { name: 'release', version: 1 },
    });
  });

  it('exits 1 on a failing version, writes the reports and leaves the alias alone', async () => {
    const [junit, summary] = [path.join(dir, 'fail.xml'), path.join(dir, 'summary.md')];
    const r = await gate(
      args(versions.forgot!, '--promote', 'production', '--junit', junit, '--summary', summary),
    );
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^gate release v1 on bot v2: FAIL/);
    expect(r.stdout).toMatch(/^ {2}FAIL +checks\[1\] change general exact_match: /m);
    expect(r.stderr).toBe('heldout: gate "release" failed\n');
    expect(fs.readFileSync(junit, 'utf8')).toContain('<failure message=');
    expect(fs.readFileSync(summary, 'utf8')).toMatch(/^## ❌ Gate `release`: fail\n/);
    expect((await client.models.alias('support', 'bot', 'production')).version).toBe(1);
  });

  it('exits 4 when nothing was evaluated', async () => {
    const none = await gate(args(versions.unevaluated!));
    expect(none.code, none.stderr).toBe(4);
    expect(none.stdout).toMatch(/: NO DATA/);
    const empty = await gate(args(versions.empty!));
    expect(empty.code, empty.stderr).toBe(4);
    // A policy of findings alone passes on no evidence at all; the command still says no data.
    await client.gates.save('support', { name: 'clean', policy: { kind: 'no_blocking_findings' } });
    const clean = await gate([
      '--model',
      'bot',
      '--candidate',
      String(versions.unevaluated),
      '--gate',
      'clean',
    ]);
    expect(clean.code, clean.stderr).toBe(4);
    expect(clean.stdout).toMatch(/^gate clean v1 on bot v3: pass/);
    expect(clean.stderr).toMatch(/nothing was evaluated/);
  });

  it('exits 4 on a pending evaluation without --wait, and when --wait runs out', async () => {
    const now = await gate(args(versions.pending!));
    expect(now.code).toBe(4);
    expect(now.stderr).toMatch(
      /1 evaluation of version 4 \(qa\) still queued or running; pass --wait/,
    );
    expect(now.stdout).toBe('');
    const waited = await gate(args(versions.pending!, '--wait', '1'));
    expect(waited.code).toBe(4);
    expect(waited.stderr).toMatch(/still queued or running after 1 s/);
  });

  it('waits with --wait until the evaluation finishes, then judges it', async () => {
    const cli = runCli(['gate', '--project', 'support', ...args(versions.pending!, '--wait')], {
      HELDOUT_SERVER: server.url,
      HELDOUT_TOKEN: token,
    });
    await cli.waitForStdout(/waiting up to 600 s for 1 evaluation/);
    await database.sql`update evaluations set status = 'finished', finished_at = now(),
      case_count = 4 where status = 'queued'`;
    expect((await cli.exited).code, cli.stderr()).toBe(0);
    expect(cli.stdout()).toMatch(/^gate release v1 on bot v4: pass/m);
  });

  it('exits 2 on usage and config errors', async () => {
    const missing = await gate(['--model', 'bot', '--candidate', '1']);
    expect([missing.code, missing.stderr]).toEqual([2, 'heldout: gate: needs --gate\n']);
    const model = await gate(['--model', 'nope', '--candidate', '1', '--gate', 'release']);
    expect(model.code).toBe(2);
    expect(model.stderr).toMatch(/^heldout: 404 not_found: .*nope/);
    expect((await gate(args(99))).stderr).toBe('heldout: model "bot" has no version 99\n');
    const unknownGate = await gate(['--model', 'bot', '--candidate', '1', '--gate', 'nope']);
    expect(unknownGate.code).toBe(2);
    expect((await gate(args(1).concat('--wait', 'soon'))).code).toBe(2);
    // production is bound to release: another gate cannot promote to it, and says so up front.
    const other = await gate([
      '--model',
      'bot',
      '--candidate',
      '1',
      '--gate',
      'clean',
      '--promote',
      'production',
    ]);
    expect([other.code, other.stderr]).toEqual([
      2,
      'heldout: "production" is protected by gate "release" v1; run --gate release to promote to it\n',
    ]);
  });

  it('exits 3 when the server cannot be reached', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as net.AddressInfo;
        s.close(() => resolve(port));
      });
    });
    const cli = runCli(
      [
        'gate',
        '--server',
        `http://127.0.0.1:${port}`,
        '--token',
        token,
        '--project',
        'support',
      ].concat(args(1)),
      {},
    );
    expect((await cli.exited).code).toBe(3);
    expect(cli.stderr()).toBe(`heldout: cannot reach http://127.0.0.1:${port}: ECONNREFUSED\n`);
  });
});
