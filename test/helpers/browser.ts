import fs from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's Chromium (`.ci/run` installs it when missing), never a test tool's own download. */
export const chromiumPath = process.env.HELDOUT_CHROMIUM ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(chromiumPath))
    throw new Error(`no Chromium at ${chromiumPath}: apt-get install -y chromium`);
  // Root in CI containers: Chromium's sandbox needs user namespaces it may not have there.
  return chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
}

/**
 * A browser and one page whose console errors and uncaught exceptions are collected, so a test
 * can assert the app ran clean.
 *
 * @example
 * const { browser, page, consoleErrors } = await openPage();
 */
export async function openPage(): Promise<{
  browser: Browser;
  page: Page;
  consoleErrors: string[];
}> {
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const consoleErrors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  return { browser, page, consoleErrors };
}
