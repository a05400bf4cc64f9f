import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Hono, type Context } from 'hono';
import type { AppEnv } from '../http/env.ts';

const webDir = fileURLToPath(new URL('../../web/app/', import.meta.url));

// The UI's scripts come from this server only; vega runs its expressions through an interpreter,
// so no 'unsafe-eval'. vega-embed injects its own <style>, hence inline styles.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "object-src 'none'",
].join('; ');

interface Bundle {
  /** The entry (`app.js`) and its lazily imported chunks (`chunk-<hash>.js`), by file name. */
  files: Map<string, string>;
  css: string;
  hash: string;
}

let bundle: Promise<Bundle> | undefined;

/**
 * Bundles `web/app` (with vega, vega-lite and vega-embed from node_modules) once per process, on
 * the first request that needs it: tests that never open the UI never pay for it, and no build step
 * stands between `npm install` and `npm start`.
 */
function loadBundle(): Promise<Bundle> {
  bundle ??= (async () => {
    const { build } = await import('esbuild');
    const result = await build({
      entryPoints: { app: `${webDir}main.ts` },
      bundle: true,
      splitting: true,
      format: 'esm',
      target: 'es2022',
      minify: true,
      write: false,
      outdir: '/assets',
      chunkNames: 'chunk-[hash]',
      legalComments: 'none',
      logLevel: 'silent',
    });
    const files = new Map(result.outputFiles.map((f) => [f.path.split('/').pop()!, f.text]));
    const css = await fs.readFile(`${webDir}styles.css`, 'utf8');
    const hash = createHash('sha256').update(files.get('app.js')!).update(css).digest('hex');
    return { files, css, hash: hash.slice(0, 16) };
  })();
  // A failed build is retried on the next request rather than cached forever.
  bundle.catch(() => (bundle = undefined));
  return bundle;
}

function securityHeaders(c: Context) {
  c.header('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  c.header('X-Content-Type-Options', 'nosniff');
  c.header('X-Frame-Options', 'DENY');
  c.header('Referrer-Policy', 'no-referrer');
}

function page(hash: string) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>heldout</title>
<link rel="stylesheet" href="/assets/app.css?v=${hash}">
<script type="module" src="/assets/app.js?v=${hash}"></script>
</head>
<body><div id="app"><p class="loading">Loading…</p></div></body>
</html>
`;
}

/**
 * The leaderboard UI: a single page served at every non-API path (its state lives in the URL, so
 * any view can be shared or reloaded), and its two assets. Data comes from `/api/v1` like any
 * other client's.
 */
export function webRoutes() {
  const immutable = 'public, max-age=31536000, immutable';
  return new Hono<AppEnv>()
    .get('/assets/app.js', async (c) => {
      const { files, hash } = await loadBundle();
      securityHeaders(c);
      c.header('Cache-Control', c.req.query('v') === hash ? immutable : 'no-cache');
      return c.body(files.get('app.js')!, 200, {
        'Content-Type': 'text/javascript; charset=utf-8',
      });
    })
    .get('/assets/:chunk{chunk-[A-Z0-9]+\\.js}', async (c) => {
      const js = (await loadBundle()).files.get(c.req.param('chunk'));
      if (js === undefined) return c.notFound();
      securityHeaders(c);
      // Named by their content: a new build never reuses a name for other bytes.
      c.header('Cache-Control', immutable);
      return c.body(js, 200, { 'Content-Type': 'text/javascript; charset=utf-8' });
    })
    .get('/assets/app.css', async (c) => {
      const { css, hash } = await loadBundle();
      securityHeaders(c);
      c.header('Cache-Control', c.req.query('v') === hash ? immutable : 'no-cache');
      return c.body(css, 200, { 'Content-Type': 'text/css; charset=utf-8' });
    })
    .get('/assets/*', (c) => c.notFound())
    .get('*', async (c, next) => {
      // Anything under /api/ or asking for something other than a page is not the UI's.
      if (c.req.path.startsWith('/api/') || c.req.path.startsWith('/ajax-api/')) return next();
      const { hash } = await loadBundle();
      securityHeaders(c);
      c.header('Cache-Control', 'no-cache');
      return c.html(page(hash));
    });
}
