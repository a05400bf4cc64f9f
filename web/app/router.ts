export interface View {
  /** Where the page draws. */
  root: HTMLElement;
  params: Record<string, string>;
  query: URLSearchParams;
  /** Aborted when the user leaves the page: timers and fetches stop with it. */
  signal: AbortSignal;
}

export type Page = (view: View) => Promise<void> | void;

interface Route {
  pattern: RegExp;
  names: string[];
  page: Page;
}

const routes: Route[] = [];

/** `/p/:project/runs/:run` style patterns; each `:name` matches one path segment. */
export function route(path: string, page: Page) {
  const names: string[] = [];
  const pattern = new RegExp(
    '^' +
      path.replace(/:([a-zA-Z]+)/g, (_, name: string) => {
        names.push(name);
        return '([^/]+)';
      }) +
      '/?$',
  );
  routes.push({ pattern, names, page });
}

export function match(pathname: string): { page: Page; params: Record<string, string> } | null {
  for (const r of routes) {
    const m = r.pattern.exec(pathname);
    if (!m) continue;
    const params: Record<string, string> = {};
    r.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1]!)));
    return { page: r.page, params };
  }
  return null;
}

let onChange: () => void = () => {};

export function listen(render: () => void) {
  onChange = render;
  addEventListener('popstate', render);
  // Same-origin links navigate without a reload; modified clicks keep the browser's behaviour.
  document.addEventListener('click', (e) => {
    const a = (e.target as Element | null)?.closest?.('a');
    if (!a || a.target || e.defaultPrevented || e.button !== 0) return;
    if (e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const href = a.getAttribute('href');
    if (!href || !href.startsWith('/') || href.startsWith('/api/')) return;
    e.preventDefault();
    navigate(href);
  });
}

/** Draws the current page again (live updates). */
export function refresh() {
  onChange();
}

export function navigate(href: string) {
  history.pushState(null, '', href);
  onChange();
}

/**
 * Changes the query string (the page's state) and redraws; `replace` keeps typing in a search box
 * from flooding the history.
 */
export function setQuery(changes: Record<string, string | null>, replace = false) {
  const q = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === '') q.delete(k);
    else q.set(k, v);
  }
  const s = q.toString();
  const href = location.pathname + (s ? `?${s}` : '');
  if (replace) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  onChange();
}

/** Paths into a project, with names escaped. */
export function projectPath(project: string, ...rest: (string | number)[]) {
  return '/p/' + [project, ...rest].map((s) => encodeURIComponent(String(s))).join('/');
}
