import { adoptTokenFromFragment } from './api.ts';
import { loadVega } from './chart.ts';
import { h, mount } from './dom.ts';
import { failure, frame } from './layout.ts';
import { comparePage } from './pages/compare.ts';
import { datasetsPage } from './pages/datasets.ts';
import { evalDiffPage } from './pages/eval-diff.ts';
import { humanPage } from './pages/human.ts';
import { leaderboardPage } from './pages/leaderboard.ts';
import { projectsPage } from './pages/projects.ts';
import { registryPage } from './pages/registry.ts';
import { runPage } from './pages/run.ts';
import { runsPage } from './pages/runs.ts';
import { suitesPage } from './pages/suites.ts';
import { tokenPage } from './pages/token.ts';
import { listen, match, route } from './router.ts';

route('/', projectsPage);
route('/token', tokenPage);
route('/p/:project', leaderboardPage);
route('/p/:project/runs', runsPage);
route('/p/:project/runs/:run', runPage);
route('/p/:project/compare', comparePage);
route('/p/:project/evaluations/:a/diff/:b', evalDiffPage);
route('/p/:project/registry', registryPage);
route('/p/:project/datasets', datasetsPage);
route('/p/:project/suites', suitesPage);
route('/p/:project/human', humanPage);

let current: AbortController | undefined;

async function render() {
  current?.abort();
  const controller = (current = new AbortController());
  // A redraw from typing in a filter must not steal the caret from the field being typed in.
  const focused = document.activeElement as HTMLInputElement | null;
  const focusName = focused?.getAttribute?.('name');
  const caret = focused?.selectionStart ?? null;

  const found = match(location.pathname);
  const root = frame(found?.params.project, location.pathname);
  if (!found) {
    mount(
      root,
      h(
        'div',
        { class: 'empty' },
        h('h2', null, 'No such page'),
        h('a', { href: '/' }, 'Projects'),
      ),
    );
    return;
  }
  try {
    await found.page({
      root,
      params: found.params,
      query: new URLSearchParams(location.search),
      signal: controller.signal,
    });
    if (focusName && !controller.signal.aborted) {
      const again = root.querySelector<HTMLInputElement>(`[name="${CSS.escape(focusName)}"]`);
      again?.focus();
      if (again && caret !== null) again.setSelectionRange?.(caret, caret);
    }
  } catch (err) {
    if (controller.signal.aborted) return;
    console.error(err);
    mount(root, failure(err));
  }
}

adoptTokenFromFragment();
listen(() => void render());
void render();
// Fetched while the page's data is on its way; parsed off the critical path.
setTimeout(() => void loadVega(), 0);
