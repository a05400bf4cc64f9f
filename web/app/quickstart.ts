import { api } from './api.ts';
import { h, mount } from './dom.ts';
import { projectPath } from './router.ts';

interface QuickstartState {
  status: 'idle' | 'running' | 'finished' | 'failed';
  project: string | null;
  events: {
    kind: string;
    message?: string;
    run?: string;
    done?: number;
    total?: number;
    status?: string;
    version?: number;
    method?: string;
    exitCode?: number;
    output?: string;
  }[];
  promoted: { version: number; method: string } | null;
  error: string | null;
}

const POLL_MS = 2000;

/**
 * The quickstart offer on an empty server, and its progress once started: the server builds a
 * bank-support project, trains four fine-tunes and gates them, and this shows it happening.
 * `onActive` hears every redraw once it has started (the page drops its empty state).
 */
export function quickstartPanel(
  signal: AbortSignal,
  offer: boolean,
  onActive: () => void = () => {},
): HTMLElement {
  const body = h('div', { 'data-testid': 'quickstart' });
  const draw = (s: QuickstartState) => {
    if (s.status !== 'idle') onActive();
    if (s.status === 'idle') {
      if (!offer) return;
      mount(
        body,
        h('h2', null, 'Try the quickstart'),
        h(
          'p',
          null,
          'Builds a real project on the shipped base model: a bank support assistant with SFT and preference data, a target suite and two retention suites, a release gate; then a full fine-tune, a LoRA, an IA³ run and DPO on top of the LoRA adapter, each evaluated checkpoint by checkpoint and judged by the gate. About 4 minutes on a laptop CPU; the short run trains half as long. (`heldout quickstart` does the same from a terminal.)',
        ),
        h(
          'button',
          { type: 'button', onclick: () => start('full'), 'data-testid': 'start-quickstart' },
          'Run the quickstart',
        ),
        ' ',
        h(
          'button',
          { type: 'button', onclick: () => start('short'), 'data-testid': 'start-short' },
          'Short run',
        ),
      );
      return;
    }
    const runs = new Map<string, QuickstartState['events'][number]>();
    const lines: string[] = [];
    const gates: HTMLElement[] = [];
    for (const e of s.events) {
      if (e.kind === 'progress') runs.set(e.run!, e);
      if (e.kind === 'step') lines.push(e.message!);
      // What a release pipeline sees: the gate command's own output, open where it refused.
      if (e.kind === 'gate')
        gates.push(
          h(
            'details',
            { 'data-testid': 'quickstart-gate', open: e.exitCode !== 0 },
            h('summary', null, `heldout gate on v${e.version} (${e.method}): exit ${e.exitCode}`),
            h('pre', { class: 'log' }, e.output ?? ''),
          ),
        );
    }
    mount(
      body,
      h('h2', null, `Quickstart: ${s.status}`),
      s.project
        ? h(
            'p',
            null,
            h('a', { href: projectPath(s.project) }, `${s.project} leaderboard`),
            ' · ',
            h('a', { href: projectPath(s.project, 'runs') }, 'runs'),
          )
        : null,
      [...runs.values()].map((r) =>
        h(
          'div',
          { class: 'progress' },
          h('progress', { max: r.total, value: r.done }),
          ` ${r.run}: ${r.done}/${r.total} ${r.status}`,
        ),
      ),
      h('pre', { class: 'log' }, lines.join('\n')),
      gates,
      s.promoted
        ? h(
            'p',
            null,
            `support-assistant v${s.promoted.version} (${s.promoted.method}) is at @production.`,
          )
        : null,
      s.error ? h('div', { class: 'error' }, s.error) : null,
    );
  };
  const poll = async () => {
    if (signal.aborted) return;
    try {
      const s = await api<QuickstartState>('/quickstart');
      if (signal.aborted) return;
      draw(s);
      if (s.status === 'running') setTimeout(poll, POLL_MS);
    } catch (err) {
      body.replaceChildren(h('div', { class: 'error' }, (err as Error).message));
    }
  };
  const start = async (scale: 'full' | 'short') => {
    try {
      await api('/quickstart', { method: 'POST', json: { scale } });
      await poll();
    } catch (err) {
      body.append(h('div', { class: 'error', role: 'alert' }, (err as Error).message));
    }
  };
  void poll();
  return body;
}
