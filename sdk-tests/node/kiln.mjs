// Starting and stopping a real `kiln serve` (KILN_BIN) on the shared test
// models (KILN_TEST_MODELS), for the SDK suites in test/.
import { spawn } from 'node:child_process';
import path from 'node:path';

export const bin = process.env.KILN_BIN;
export const models = process.env.KILN_TEST_MODELS;
export const skip = !bin || !models ? 'KILN_BIN and KILN_TEST_MODELS must be set' : false;

// startKiln runs `kiln serve` on modelFile (a name in KILN_TEST_MODELS) on a
// free port and resolves with the process and its base URL, read from the
// listening line of its log.
export async function startKiln(modelFile, args = []) {
  const p = spawn(bin, [
    'serve', '--model', path.join(models, modelFile),
    '--host', '127.0.0.1', '--port', '0', '--threads', '1', ...args,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  const url = await new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`kiln serve did not start:\n${log}`)), 20000);
    p.stderr.on('data', (d) => {
      log += d;
      const m = /url=(http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    p.on('exit', (code) => reject(new Error(`kiln serve exited with ${code}:\n${log}`)));
  });
  p.stderr.resume();
  return { proc: p, url };
}

// stop ends a server with SIGTERM and waits for it to exit.
export async function stop(p) {
  if (!p || p.exitCode !== null) return;
  const exited = new Promise((resolve) => p.on('exit', resolve));
  p.kill('SIGTERM');
  await exited;
}
