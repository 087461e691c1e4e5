/**
 * Headless Chromium (Debian's, no browser download), started by the test
 * itself with a fresh profile so that its PID is known, and driven by
 * Playwright over the DevTools protocol.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Browser, chromium, Page } from 'playwright-core';

import { GroupFile, isRunning, stopGroup, waitFor } from './processes';

/** The window the screenshots show. */
export const VIEWPORT = { width: 1280, height: 800 };

/**
 * Flags for a headless Chromium that runs as root in a container and does
 * nothing on its own: no sandbox, GPU, first-run UI, background requests,
 * component updates or sync.
 */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--remote-debugging-address=127.0.0.1',
  '--remote-debugging-port=0',
  `--window-size=${VIEWPORT.width},${VIEWPORT.height}`,
];

/** A running Chromium, which the test must stop(). */
export class Chromium {
  private constructor(
    /** The PID of Chromium, which leads its own process group. */
    readonly pid: number,
    private readonly browser: Browser,
    private readonly groups: GroupFile,
  ) {}

  /** Starts executable with a new profile in dir, its output in dir/chromium.log, and connects Playwright to it. */
  static async start(executable: string, dir: string, groups: GroupFile, timeoutMs: number): Promise<Chromium> {
    const logFile = path.join(dir, 'chromium.log');
    // Chromium keeps some files outside its profile (crash reports, dconf's
    // cache): under a home of its own, nothing of the user's is touched.
    const home = path.join(dir, 'chromium-home');
    const child = spawn(executable, [...FLAGS, `--user-data-dir=${path.join(dir, 'chromium-profile')}`, 'about:blank'], {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), XDG_CACHE_HOME: path.join(home, '.cache') },
    });
    if (child.pid === undefined) {
      throw new Error(`cannot start ${executable}`);
    }
    const pid = child.pid;
    groups.add(pid, 'chromium');
    const log = fs.createWriteStream(logFile);
    child.stderr?.pipe(log);
    try {
      const endpoint = await new Promise<string>((resolve, reject) => {
        let output = '';
        const timer = setTimeout(() => reject(new Error(`Chromium did not start within ${timeoutMs / 1000}s: ${output}`)), timeoutMs);
        child.stderr?.on('data', (data: Buffer) => {
          output += data.toString();
          const match = /DevTools listening on (ws:\/\/\S+)/.exec(output);
          if (match) {
            clearTimeout(timer);
            resolve(match[1]);
          }
        });
        child.once('exit', (code, sig) => {
          clearTimeout(timer);
          reject(new Error(`Chromium exited (${code ?? sig}): ${output}`));
        });
      });
      return new Chromium(pid, await chromium.connectOverCDP(endpoint, { timeout: timeoutMs }), groups);
    } catch (err) {
      await stopGroup(pid, 5_000);
      groups.remove(pid);
      throw err;
    }
  }

  /** The browser's one tab, VIEWPORT in size. */
  async page(): Promise<Page> {
    const context = this.browser.contexts()[0];
    const page = context.pages()[0] ?? (await context.newPage());
    await page.setViewportSize(VIEWPORT);
    return page;
  }

  /**
   * Closes the browser through Playwright and lets it exit, then stops
   * whatever of it still runs by PID. Playwright's close() only disconnects
   * from a browser it connected to; the protocol's Browser.close has Chromium
   * shut down, its helper processes included.
   */
  async stop(): Promise<void> {
    await this.browser
      .newBrowserCDPSession()
      .then((cdp) => cdp.send('Browser.close'))
      .catch(() => undefined);
    await this.browser.close().catch(() => undefined);
    await waitFor('Chromium to exit', 10_000, () => !isRunning(this.pid)).catch(() => undefined);
    await stopGroup(this.pid, 10_000);
    this.groups.remove(this.pid);
  }
}
