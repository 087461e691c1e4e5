/**
 * What the test does in VS Code's window, as a user would: click in the
 * explorer and the editor's gutter, press F5 and Shift+F5, type into the
 * process picker, read the Call Stack and Variables views. Locators use the
 * roles and accessible names VS Code gives its views where it gives them,
 * and its CSS classes (the editor's margin and decorations) where it does
 * not. The steps VS Code may swallow (a click or a key press that lands
 * while focus or layout is still settling) are retried until their effect
 * shows.
 */
import { Locator, Page } from 'playwright-core';

import { waitFor } from './processes';

/** How long a single attempt at a step waits for its effect before it is tried again. */
const ATTEMPT_MS = 5_000;

/** A breakpoint's dot in the editor's gutter. */
const BREAKPOINT = '.glyph-margin-widgets .codicon-debug-breakpoint';
/** The faint dot in the gutter under the mouse where a click would set a breakpoint. */
const BREAKPOINT_HINT = '.glyph-margin-widgets .codicon-debug-hint';

/** The title of pyattach's process picker (picker.ts). */
const PICKER_TITLE = 'Attach to a running Python process (pyattach)';

/** The VS Code window in a browser page. */
export class Workbench {
  private constructor(
    /** The page VS Code runs in. */
    readonly page: Page,
    private readonly timeoutMs: number,
  ) {}

  /** Loads VS Code from url and waits until its explorer lists the workspace file fileName. */
  static async open(page: Page, url: string, fileName: string, timeoutMs: number): Promise<Workbench> {
    page.setDefaultTimeout(timeoutMs);
    await page.goto(url, { timeout: timeoutMs });
    await page.locator('.monaco-workbench').waitFor();
    await page.getByRole('tree', { name: 'Files Explorer' }).getByRole('treeitem', { name: fileName, exact: true }).waitFor();
    return new Workbench(page, timeoutMs);
  }

  /** Opens the workspace file name from the explorer and waits for its editor. */
  async openFile(name: string): Promise<void> {
    const item = this.page.getByRole('tree', { name: 'Files Explorer' }).getByRole('treeitem', { name, exact: true });
    const tab = this.page.getByRole('tab', { name, exact: true });
    await this.retry(`the editor for ${name} to open`, async () => {
      await item.click();
      await tab.waitFor({ timeout: ATTEMPT_MS });
    });
    await this.lineNumber(1).waitFor();
  }

  /**
   * Sets a breakpoint on line of the open editor as a user does: points at
   * the gutter (the glyph margin, left of the line numbers) until VS Code
   * shows the faint breakpoint hint there, clicks, and waits for the red dot.
   * VS Code shows the hint only once it knows that an extension takes
   * breakpoints in the file's language (contributes.breakpoints), which it
   * learns a little after the window opens.
   */
  async setBreakpoint(line: number): Promise<void> {
    const glyphMargin = this.page.locator('.monaco-editor .glyph-margin').first();
    await this.retry(`a breakpoint to show on line ${line} (does an extension contribute breakpoints for the file's language?)`, async () => {
      // A click whose dot was merely slow to show must not be undone by another.
      if (await this.isOnLine(BREAKPOINT, line)) {
        return;
      }
      const margin = await box(glyphMargin);
      const row = await box(this.lineNumber(line));
      const x = margin.x + margin.width / 2;
      const y = row.y + row.height / 2;
      // The hint follows mouse moves, so each look makes one.
      await waitFor(`the breakpoint hint on line ${line}`, ATTEMPT_MS, async () => {
        await this.page.mouse.move(x, y - row.height / 4);
        await this.page.mouse.move(x, y);
        return this.isOnLine(BREAKPOINT_HINT, line);
      });
      await this.page.mouse.click(x, y);
      await this.waitOnLine(BREAKPOINT, line, ATTEMPT_MS);
    });
  }

  /**
   * Starts the selected launch configuration (F5, with the focus in the
   * editor) and waits for the process picker, which opens once VS Code has
   * activated the extension.
   */
  async startDebugging(): Promise<void> {
    await this.focusEditor();
    await this.page.keyboard.press('F5');
    await this.quickInputTitle().waitFor();
  }

  /**
   * Chooses process pid in the picker the way a user does: types the PID into
   * the filter and presses Enter once the process's row is the one
   * highlighted (or clicks the row, if another one matched the digits first).
   */
  async pickProcess(pid: number): Promise<void> {
    const picker = this.page.locator('.quick-input-widget');
    // The list arrives when `pyattach ps --json` has answered.
    await picker.getByRole('option').first().waitFor();
    await picker.locator('.quick-input-box input').fill(String(pid));
    const row = picker.getByRole('option', { name: new RegExp(`, PID ${pid} · `) });
    await row.waitFor();
    if ((await row.getAttribute('class'))?.split(' ').includes('focused')) {
      await this.page.keyboard.press('Enter');
    } else {
      await row.click();
    }
    await this.quickInputTitle().waitFor({ state: 'hidden' });
  }

  /**
   * Waits until VS Code shows the debuggee stopped in fn at file:line: the
   * Call Stack view paused on a breakpoint with that frame on top, and the
   * editor highlighting the line.
   */
  async waitStopped(file: string, line: number, fn: string): Promise<void> {
    await this.callStack().getByRole('row', { name: `Stack Frame ${fn}, line ${line}, ${file}`, exact: true }).waitFor();
    await this.page.locator('.call-stack-state-message', { hasText: 'Paused on breakpoint' }).waitFor();
    await this.waitOnLine('.debug-top-stack-frame-line', line, this.timeoutMs);
  }

  /** The names of the Call Stack view's frames, top first. */
  async stackFrames(): Promise<string[]> {
    const frames = this.callStack().getByRole('row', { name: /^Stack Frame / });
    return (await frames.evaluateAll((rows) => rows.map((row) => row.getAttribute('aria-label') ?? ''))).map((label) => label.replace(/^Stack Frame /, ''));
  }

  /**
   * Reads a local variable's value from the Variables view, as VS Code shows
   * it, expanding the Locals scope first if it is collapsed.
   */
  async variable(name: string): Promise<string> {
    const variables = this.page.getByRole('tree', { name: 'Debug Variables' });
    const locals = variables.getByRole('treeitem', { name: 'Scope Locals', exact: true });
    const row = variables.getByRole('treeitem', { name: new RegExp(`^${name}, value `) });
    await this.retry(`${name} to show in the Variables view`, async () => {
      if ((await locals.getAttribute('aria-expanded', { timeout: ATTEMPT_MS })) === 'false') {
        await locals.click();
      }
      await row.waitFor({ timeout: ATTEMPT_MS });
    });
    const label = (await row.getAttribute('aria-label')) ?? '';
    return label.slice(`${name}, value `.length);
  }

  /** Waits until the Variables view shows name with a value that satisfies check, and returns that value. */
  async waitVariable(name: string, check: (value: string) => boolean): Promise<string> {
    let value = '';
    await waitFor(`${name} in the Variables view to change`, this.timeoutMs, async () => {
      value = await this.variable(name);
      return check(value);
    });
    return value;
  }

  /** Continues the paused debuggee (F5, with the focus in the editor). */
  async continue(): Promise<void> {
    await this.focusEditor();
    await this.page.keyboard.press('F5');
  }

  /**
   * Ends the debug session (Shift+F5, with the focus in the editor: for an
   * attach, that disconnects) and waits until the debug toolbar is gone.
   */
  async disconnect(): Promise<void> {
    await this.focusEditor();
    await this.page.keyboard.press('Shift+F5');
    await this.page.locator('.debug-toolbar').waitFor({ state: 'hidden' });
  }

  /** Moves the mouse where it shows no hover, then saves a screenshot of the page to file. */
  async screenshot(file: string): Promise<void> {
    await this.page.mouse.move(0, 0);
    await this.page.screenshot({ path: file });
  }

  /**
   * Puts the keyboard focus in the open editor, so that key bindings reach
   * the workbench, without moving its cursor or selecting anything.
   */
  async focusEditor(): Promise<void> {
    await this.page.locator('.monaco-editor [role="textbox"][aria-roledescription="editor"]').first().focus();
  }

  /** The Call Stack view's tree (a tree grid: its rows are frames and threads). */
  private callStack(): Locator {
    return this.page.getByRole('treegrid', { name: 'Debug Call Stack' });
  }

  /** The open editor's line number label for line. */
  private lineNumber(line: number): Locator {
    return this.page.locator('.monaco-editor .margin-view-overlays .line-numbers').filter({ hasText: new RegExp(`^${line}$`) });
  }

  /** Waits until an element matching selector is shown level with line of the open editor. */
  private async waitOnLine(selector: string, line: number, timeoutMs: number): Promise<void> {
    await waitFor(`${selector} on line ${line}`, timeoutMs, () => this.isOnLine(selector, line));
  }

  /** Whether an element matching selector is shown level with line of the open editor. */
  private async isOnLine(selector: string, line: number): Promise<boolean> {
    // Either may be re-rendered (and so gone) between finding it and measuring it.
    const measure = (locator: Locator) => locator.boundingBox({ timeout: 1_000 }).catch(() => null);
    const row = await measure(this.lineNumber(line));
    for (const mark of await this.page.locator(`.monaco-editor ${selector}`).all()) {
      const at = await measure(mark);
      if (row && at && Math.abs(at.y + at.height / 2 - (row.y + row.height / 2)) < row.height / 2) {
        return true;
      }
    }
    return false;
  }

  /** The title of the quick input (the process picker). */
  private quickInputTitle(): Locator {
    return this.page.locator('.quick-input-widget .quick-input-title', { hasText: PICKER_TITLE });
  }

  /** Runs attempt until it succeeds, for as long as the step's timeout allows. */
  private async retry(what: string, attempt: () => Promise<void>): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      try {
        await attempt();
        return;
      } catch (err) {
        const reason = (err as Error).message.split('\n')[0];
        if (Date.now() > deadline) {
          throw new Error(`gave up after ${this.timeoutMs / 1000}s waiting for ${what}: ${reason}`);
        }
        console.log(`      trying again: ${what} (${reason})`);
      }
    }
  }
}

/** The element's position on the page; rejects if it is not shown. */
async function box(locator: Locator): Promise<{ x: number; y: number; width: number; height: number }> {
  const found = await locator.boundingBox({ timeout: ATTEMPT_MS });
  if (found === null) {
    throw new Error(`${locator} is not visible`);
  }
  return found;
}
