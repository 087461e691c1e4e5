/**
 * The debug adapter descriptor factory for type "pyattach": VS Code runs
 * `pyattach dap` and speaks DAP with it over stdin/stdout. Which pyattach is
 * decided by adapterBinary.ts.
 */
import * as vscode from 'vscode';

import { BinaryLocation } from './adapterBinary';

/** Starts `pyattach dap` for each pyattach debug session. */
export class PyattachAdapterFactory implements vscode.DebugAdapterDescriptorFactory {
  /** @param locate finds the pyattach executable. */
  constructor(private readonly locate: () => BinaryLocation) {}

  /**
   * Names the executable to run. The configuration resolver has already
   * told the user if there is none; VS Code shows this error if the
   * executable went away since.
   */
  createDebugAdapterDescriptor(): vscode.DebugAdapterDescriptor {
    const binary = this.locate();
    if (!binary.ok) {
      throw new Error(binary.message);
    }
    return new vscode.DebugAdapterExecutable(binary.path, ['dap']);
  }
}
