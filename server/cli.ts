import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config.ts';
import { gateCommand, GATE_USAGE } from './gate-command.ts';
import { createLogger } from './logger.ts';
import { quickstartCommand, QUICKSTART_USAGE } from './quickstart/command.ts';
import { startServer } from './serve.ts';
import { tokensCommand, TOKENS_USAGE } from './tokens-command.ts';
import { startWorker } from './worker/worker.ts';
import { version } from './version.ts';

const USAGE = `heldout ${version}: evaluation-first experiment tracking for fine-tuned language models

Usage:
  heldout serve        start the API and web UI (embedded PostgreSQL unless DATABASE_URL is set)
                       and one in-process training worker (HELDOUT_WORKER=0 turns it off)
  heldout worker --server URL --token TOKEN [--gpus 0,1]
                       train queued runs: one job per GPU, or one on the CPU without --gpus;
                       TOKEN: a worker token (heldout tokens create --worker), not the admin's
  ${TOKENS_USAGE}
  ${GATE_USAGE}
  ${QUICKSTART_USAGE}
  heldout --version    print the version

Configuration comes from environment variables; see README.md.`;

/** Exit codes shared by every heldout command: 2 means "fix how you called me". */
export const EXIT_USAGE = 2;

function fail(message: string, code: number): never {
  process.stderr.write(`heldout: ${message}\n`);
  process.exit(code);
}

async function serveCommand(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.HELDOUT_LOG_LEVEL);
  const running = await startServer(config, logger);
  process.stdout.write(`heldout is running at ${running.url}\n`);
  if (running.adminToken) {
    // Printed, not logged: logs are shipped elsewhere and must never hold a token.
    process.stdout.write(
      `Admin API token (shown only this once, store it now):\n\n  ${running.adminToken}\n\n` +
        // The fragment never reaches a server or its logs; the UI moves it to local storage.
        `Open the leaderboard signed in: ${running.url}/#token=${running.adminToken}\n\n`,
    );
  }
  let signals = 0;
  const stop = (signal: NodeJS.Signals) => {
    if (++signals > 1) fail(`second ${signal}: exiting without a clean shutdown`, 130);
    logger.info({ signal }, 'shutting down');
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, stop);
}

async function workerCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      server: { type: 'string', default: process.env.HELDOUT_SERVER },
      token: { type: 'string', default: process.env.HELDOUT_TOKEN },
      gpus: { type: 'string' },
    },
  });
  if (!values.server) fail('worker needs --server URL (or HELDOUT_SERVER)', EXIT_USAGE);
  if (!values.token) fail('worker needs --token TOKEN (or HELDOUT_TOKEN)', EXIT_USAGE);
  if (values.gpus !== undefined && !/^\d+(,\d+)*$/.test(values.gpus))
    fail(`--gpus must be GPU indices like 0,1 (got ${JSON.stringify(values.gpus)})`, EXIT_USAGE);
  const logger = createLogger(loadConfig().HELDOUT_LOG_LEVEL);
  const worker = startWorker({
    server: values.server,
    token: values.token,
    gpus: values.gpus ? values.gpus.split(',').map(Number) : [],
    logger,
  });
  process.stdout.write(`heldout worker polling ${values.server}\n`);
  let signals = 0;
  const stop = (signal: NodeJS.Signals) => {
    if (++signals > 1) fail(`second ${signal}: exiting without handing jobs back`, 130);
    logger.info({ signal }, 'worker stopping');
    void worker.stop().then(() => process.exit(0));
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, stop);
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'worker') return workerCommand(argv.slice(1));
  if (argv[0] === 'gate') return void (process.exitCode = await gateCommand(argv.slice(1)));
  if (argv[0] === 'tokens') return void (process.exitCode = await tokensCommand(argv.slice(1)));
  if (argv[0] === 'quickstart')
    return void (process.exitCode = await quickstartCommand(argv.slice(1)));
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
  });
  if (values.help) return void process.stdout.write(`${USAGE}\n`);
  if (values.version) return void process.stdout.write(`${version}\n`);
  const [command = 'serve'] = positionals;
  if (command === 'serve') return serveCommand();
  fail(`unknown command "${command}"\n\n${USAGE}`, EXIT_USAGE);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) fail(err.message, EXIT_USAGE);
  if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))
    fail((err as Error).message, EXIT_USAGE);
  fail(`failed to start: ${(err as Error).message ?? String(err)}`, 1);
});
