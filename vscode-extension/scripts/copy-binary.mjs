// Copies the pyattach binary into the extension (bin/<target>/pyattach)
// before vsce packages it. The target is PYATTACH_VSIX_TARGET, linux-x64 by
// default, the same one `npm run package` passes to `vsce package --target`
// (scripts/dist.sh packages linux-arm64 too). The binary comes from
// PYATTACH_BIN, by default ../bin/pyattach, which `go build -o bin/pyattach .`
// makes at the repository root; it must be a Linux executable for the
// target's processor. Whatever bin/ held before goes, so that a package
// carries one binary: its own platform's.
import { Buffer } from 'node:buffer';
import { chmodSync, closeSync, copyFileSync, mkdirSync, openSync, readSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The ELF machine number of each target's processor: x86-64 and AArch64. */
const MACHINES = { 'linux-x64': 0x3e, 'linux-arm64': 0xb7 };

const extensionDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const vsixTarget = process.env.PYATTACH_VSIX_TARGET || 'linux-x64';
const source = resolve(process.env.PYATTACH_BIN || join(extensionDir, '..', 'bin', 'pyattach'));
const target = join(extensionDir, 'bin', vsixTarget, 'pyattach');

/** Reports whether file is a 64-bit little-endian ELF executable (class 2, data 1) for machine. */
function isLinuxExecutable(file, machine) {
  const header = Buffer.alloc(20);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, header, 0, header.length, 0);
  } finally {
    closeSync(fd);
  }
  return header.subarray(0, 4).toString('latin1') === '\x7fELF' && header[4] === 2 && header[5] === 1 && header.readUInt16LE(18) === machine;
}

const machine = MACHINES[vsixTarget];
if (machine === undefined) {
  console.error(`copy-binary: PYATTACH_VSIX_TARGET is ${vsixTarget}; pyattach is packaged for ${Object.keys(MACHINES).join(' and ')}.`);
  process.exit(1);
}
try {
  if (!isLinuxExecutable(source, machine)) {
    console.error(`copy-binary: ${source} is not a Linux executable for ${vsixTarget}; build pyattach for it (scripts/build-binary.sh).`);
    process.exit(1);
  }
} catch (err) {
  console.error(`copy-binary: cannot read ${source} (${err.message}); build it first: cd .. && go build -o bin/pyattach .`);
  process.exit(1);
}
rmSync(join(extensionDir, 'bin'), { recursive: true, force: true });
mkdirSync(dirname(target), { recursive: true });
copyFileSync(source, target);
chmodSync(target, 0o755);
console.log(`copy-binary: ${source} -> ${target}`);
