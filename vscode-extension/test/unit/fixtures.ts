/** Access to the recorded `pyattach ps --json` outputs in test/fixtures. */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The directory of the recorded fixtures (this file runs from out/test/unit). */
export const FIXTURES_DIR = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures');

/** The text of one fixture file. */
export function readFixture(name: string): string {
  return fs.readFileSync(path.join(FIXTURES_DIR, name), 'utf8');
}
