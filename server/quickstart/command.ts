import { parseArgs } from 'node:util';
import { HeldoutClient } from '../client/index.ts';
import { runQuickstart, type QuickstartEvent } from './quickstart.ts';

export const QUICKSTART_USAGE = `heldout quickstart [--server URL] [--token TOKEN] [--project NAME] [--short]
                       build a bank-support project on a running server: data, suites, a gate,
                       full / LoRA / IA³ fine-tunes and DPO on the LoRA adapter, each evaluated,
                       then \`heldout gate\` on each (server: HELDOUT_SERVER or 127.0.0.1:4242)`;

const BAR = 24;

/** A progress line per run: a bar on a terminal, a line per tenth elsewhere (CI logs). */
export function progressPrinter(out: { isTTY?: boolean; write(text: string): unknown }) {
  const shown = new Map<string, number>();
  return (e: QuickstartEvent) => {
    if (e.kind === 'step') out.write(`${out.isTTY ? '\n' : ''}• ${e.message}\n`);
    if (e.kind === 'gate')
      out.write(
        `\n$ heldout gate … --candidate ${e.version}   (${e.method})\n${e.output}exit ${e.exitCode}\n`,
      );
    if (e.kind !== 'progress') return;
    const share = e.total ? Math.min(1, e.done / e.total) : 0;
    const bar = `[${'#'.repeat(Math.round(share * BAR)).padEnd(BAR, '.')}] ${e.done}/${e.total} ${e.run} ${e.status}`;
    if (out.isTTY) return void out.write(`\r${bar}${e.status === 'finished' ? '\n' : ''}`);
    const tenth = Math.floor(share * 10);
    if (shown.get(e.run) !== tenth || e.status === 'finished') out.write(`${bar}\n`);
    shown.set(e.run, tenth);
  };
}

/** `heldout quickstart`: exit 0 when an adapter was promoted and the full fine-tune blocked. */
export async function quickstartCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      server: { type: 'string', default: process.env.HELDOUT_SERVER ?? 'http://127.0.0.1:4242' },
      token: { type: 'string', default: process.env.HELDOUT_TOKEN },
      project: { type: 'string', default: 'bank-support' },
      short: { type: 'boolean', default: false },
    },
  });
  if (!values.token) {
    process.stderr.write(
      'heldout: quickstart needs --token TOKEN (or HELDOUT_TOKEN): the admin token `heldout serve` printed\n',
    );
    return 2;
  }
  const t0 = Date.now();
  const client = new HeldoutClient({ baseUrl: values.server, token: values.token });
  const result = await runQuickstart(client, {
    server: values.server,
    token: values.token,
    project: values.project,
    scale: values.short ? 'short' : 'full',
    onEvent: progressPrinter(process.stdout),
  });
  const full = result.gates.find((g) => g.method === 'full');
  process.stdout.write(
    `\nDone in ${Math.round((Date.now() - t0) / 1000)} s. ` +
      (result.promoted
        ? `support-assistant v${result.promoted.version} (${result.promoted.method}) is @production; `
        : 'no adapter passed the gate; ') +
      `the full fine-tune ${full?.exitCode === 1 ? 'was blocked' : `exited ${full?.exitCode}`}.\n` +
      `Leaderboard: ${values.server}/p/${encodeURIComponent(result.project)}\n`,
  );
  return result.promoted && full?.exitCode === 1 ? 0 : 1;
}
