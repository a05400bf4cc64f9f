import { afterEach, describe, expect, it, vi } from 'vitest';
import { progressPrinter, quickstartCommand } from '../../server/quickstart/command.ts';

const capture = (isTTY: boolean) => {
  const out = { isTTY, text: '', write: (t: string) => (out.text += t) };
  return out;
};
const progress = (run: string, done: number, status = 'running') =>
  ({ kind: 'progress', run, done, total: 20, status }) as const;

afterEach(() => vi.restoreAllMocks());

describe('heldout quickstart output', () => {
  it('writes a line per tenth of a run in logs, and the finish', () => {
    const out = capture(false);
    const print = progressPrinter(out);
    for (let done = 0; done <= 19; done++) print(progress('lora', done));
    print(progress('lora', 20, 'finished'));
    const lines = out.text.trim().split('\n');
    expect(lines).toHaveLength(11);
    expect(lines[0]).toBe(`[${'.'.repeat(24)}] 0/20 lora running`);
    expect(lines.at(-1)).toBe(`[${'#'.repeat(24)}] 20/20 lora finished`);
  });

  it('redraws one bar in place on a terminal', () => {
    const out = capture(true);
    const print = progressPrinter(out);
    print(progress('ia3', 5));
    print(progress('ia3', 10));
    print(progress('ia3', 20, 'finished'));
    expect(out.text).toBe(
      `\r[######..................] 5/20 ia3 running` +
        `\r[############............] 10/20 ia3 running` +
        `\r[########################] 20/20 ia3 finished\n`,
    );
  });

  it("shows each step and `heldout gate`'s own output with its exit code", () => {
    const out = capture(false);
    const print = progressPrinter(out);
    print({ kind: 'step', message: 'full-finetune: training (full)' });
    print({ kind: 'gate', version: 1, method: 'full', exitCode: 1, output: 'FAIL copying\n' });
    expect(out.text).toBe(
      '• full-finetune: training (full)\n' +
        '\n$ heldout gate … --candidate 1   (full)\nFAIL copying\nexit 1\n',
    );
  });

  it('needs a token, and says which', async () => {
    vi.stubEnv('HELDOUT_TOKEN', '');
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(await quickstartCommand(['--server', 'http://127.0.0.1:9'])).toBe(2);
    expect(String(stderr.mock.calls[0]![0])).toMatch(/quickstart needs --token TOKEN/);
  });
});
