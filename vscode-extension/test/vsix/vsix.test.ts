/**
 * Checks the packaged .vsix (run after `npm run package`): the manifest VS
 * Code reads, the bundled extension, and the pyattach binary, present,
 * executable, for the package's platform and the one that was built.
 * PYATTACH_VSIX_TARGET names the platform (default linux-x64), PYATTACH_VSIX
 * the file (default: pyattach-TARGET-VERSION.vsix here), PYATTACH_BIN the
 * binary it must hold.
 */
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import * as yauzl from 'yauzl';

const EXTENSION_DIR = path.resolve(__dirname, '..', '..', '..');
const SOURCE_MANIFEST = JSON.parse(fs.readFileSync(path.join(EXTENSION_DIR, 'package.json'), 'utf8'));
const TARGET = process.env.PYATTACH_VSIX_TARGET || 'linux-x64';
const VSIX = path.resolve(process.env.PYATTACH_VSIX || path.join(EXTENSION_DIR, `${SOURCE_MANIFEST.name}-${TARGET}-${SOURCE_MANIFEST.version}.vsix`));
const PYATTACH = path.resolve(process.env.PYATTACH_BIN || path.join(EXTENSION_DIR, '..', 'bin', 'pyattach'));
const BINARY_ENTRY = `extension/bin/${TARGET}/pyattach`;
/** The ELF machine of each platform's processor. */
const ELF_MACHINES: Record<string, number> = { 'linux-x64': 0x3e, 'linux-arm64': 0xb7 };

/** One file in the archive. */
interface Entry {
  /** The Unix permission bits. */
  mode: number;
  data: Buffer;
}

describe('the .vsix', function () {
  let entries: Map<string, Entry>;

  before(async function () {
    assert.ok(fs.existsSync(VSIX), `no ${VSIX}: run npm run package first`);
    entries = await readZip(VSIX);
  });

  it('holds the manifest, the bundled extension, the README and the binary, and nothing else', () => {
    assert.deepEqual([...entries.keys()].sort(), [
      '[Content_Types].xml',
      'extension.vsixmanifest',
      BINARY_ENTRY,
      'extension/dist/extension.js',
      'extension/package.json',
      'extension/readme.md',
    ]);
  });

  it('has the manifest fields VS Code reads', () => {
    const manifest = JSON.parse(entries.get('extension/package.json')!.data.toString('utf8'));
    assert.equal(manifest.name, 'pyattach');
    assert.equal(manifest.publisher, 'pyattach');
    assert.equal(manifest.version, SOURCE_MANIFEST.version);
    assert.match(manifest.engines.vscode, /^\^1\.\d+\.\d+$/);
    assert.equal(manifest.main, './dist/extension.js');
    assert.deepEqual(manifest.extensionKind, ['workspace']);
    assert.deepEqual(manifest.activationEvents, SOURCE_MANIFEST.activationEvents);
    assert.deepEqual(manifest.contributes, SOURCE_MANIFEST.contributes);
    assert.equal(manifest.contributes.debuggers[0].type, 'pyattach');
    const vsixManifest = entries.get('extension.vsixmanifest')!.data.toString('utf8');
    assert.match(vsixManifest, /<Identity [^>]*Id="pyattach"[^>]*Publisher="pyattach"/);
    assert.match(vsixManifest, /Microsoft\.VisualStudio\.Code\.Engine" Value="\^1\.\d+\.\d+"/);
    assert.match(vsixManifest, new RegExp(`<Identity [^>]*TargetPlatform="${TARGET}"`), `the package is not marked as for ${TARGET}`);
  });

  it('bundles the extension into one file that needs nothing but vscode and Node', () => {
    const code = entries.get('extension/dist/extension.js')!.data.toString('utf8');
    assert.match(code, /require\("vscode"\)/);
    const required = [...code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
    assert.deepEqual(
      required.filter((name) => name !== 'vscode' && !name.startsWith('node:')),
      [],
    );
  });

  it('holds the pyattach binary that was built, executable', () => {
    const binary = entries.get(BINARY_ENTRY)!;
    assert.equal(binary.mode & 0o111, 0o111, `mode ${binary.mode.toString(8)} is not executable by all`);
    assert.equal(binary.data.subarray(0, 4).toString('latin1'), '\x7fELF');
    assert.equal(binary.data.readUInt16LE(18), ELF_MACHINES[TARGET], `the binary is not for ${TARGET}`);
    assert.equal(sha256(binary.data), sha256(fs.readFileSync(PYATTACH)), `the binary differs from ${PYATTACH}`);
  });
});

/** Reads every file of a zip archive into memory (a .vsix is a few megabytes). */
function readZip(file: string): Promise<Map<string, Entry>> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err) {
        return reject(err);
      }
      const entries = new Map<string, Entry>();
      zip.on('error', reject);
      zip.on('end', () => resolve(entries));
      zip.on('entry', (entry: yauzl.Entry) => {
        zip
          .openReadStreamPromise(entry)
          .then(readAll)
          .then((data) => {
            entries.set(entry.fileName, { mode: (entry.externalFileAttributes >>> 16) & 0o7777, data });
            zip.readEntry();
          }, reject);
      });
      zip.readEntry();
    });
  });
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
