/**
 * Which pyattach executable the extension runs, both as the debug adapter
 * (`pyattach dap`) and for the process picker (`pyattach ps --json`): the
 * one the "pyattach.path" setting names, else the one bundled in the
 * extension for this platform (bin/linux-x64/pyattach, ...).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Where to look for pyattach. */
export interface BinaryQuery {
  /** The "pyattach.path" setting: an absolute path, a path starting with ~/, or a command name looked up on PATH; "" when unset. */
  setting: string;
  /** The extension's install directory. */
  extensionPath: string;
  /** process.platform. */
  platform: string;
  /** process.arch. */
  arch: string;
  /** The PATH to search for a bare command name. */
  searchPath: string;
}

/** The pyattach to run, or why there is none. */
export type BinaryLocation = { ok: true; path: string } | { ok: false; message: string };

/** The path of the pyattach bundled for a platform, e.g. bin/linux-x64/pyattach. */
export function bundledBinaryPath(extensionPath: string, platform: string, arch: string): string {
  return path.join(extensionPath, 'bin', `${platform}-${arch}`, 'pyattach');
}

/** Finds the pyattach to run. isExecutable is replaceable for tests. */
export function locateBinary(q: BinaryQuery, isExecutable: (file: string) => boolean = isExecutableFile): BinaryLocation {
  const setting = q.setting.trim();
  if (setting !== '') {
    const found = fromSetting(setting, q.searchPath, isExecutable);
    return found !== undefined
      ? { ok: true, path: found }
      : { ok: false, message: `The "pyattach.path" setting is "${setting}", but that names no executable file. Set it to an absolute path, a path starting with ~/, or a command on PATH; or clear it to use the bundled pyattach.` };
  }
  const bundled = bundledBinaryPath(q.extensionPath, q.platform, q.arch);
  return isExecutable(bundled)
    ? { ok: true, path: bundled }
    : {
        ok: false,
        message:
          `This extension bundles no pyattach for ${q.platform}-${q.arch} and the "pyattach.path" setting is empty. ` +
          'Install the extension package for this platform, or install pyattach (pipx install pyattach) and set "pyattach.path" to it.',
      };
}

/** Resolves the setting's value to an executable file, or undefined. */
function fromSetting(setting: string, searchPath: string, isExecutable: (file: string) => boolean): string | undefined {
  if (setting === '~' || setting.startsWith('~/')) {
    const file = path.join(os.homedir(), setting.slice(1));
    return isExecutable(file) ? file : undefined;
  }
  if (setting.includes(path.sep)) {
    return path.isAbsolute(setting) && isExecutable(setting) ? setting : undefined;
  }
  return searchPath
    .split(path.delimiter)
    .filter((dir) => path.isAbsolute(dir))
    .map((dir) => path.join(dir, setting))
    .find(isExecutable);
}

/** Reports whether file is a regular file this process may execute. */
export function isExecutableFile(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}
