/**
 * Starting the web examples on a runtime as the test's own child process: a
 * program that prints `listening on http://127.0.0.1:<port>/events` (Node,
 * Bun, Deno, Hono), or workerd, which reports the ports it bound through
 * `--control-fd`. Every host runs in a process group of its own and is ended by
 * the test (SIGTERM, then SIGKILL).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { killGroup, within } from './realworld.ts';

export interface Host {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** What it printed so far (stdout and stderr). */
  output(): string;
  stop(): Promise<void>;
}

function launch(bin: string, args: readonly string[], cwd: string, env: Record<string, string>, extraFd: boolean): ChildProcess {
  return spawn(bin, args, {
    cwd,
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: extraFd ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
}

/** Run `bin args` in `cwd` with PORT=0; resolves once it printed where it listens. */
export async function startHost(bin: string, args: readonly string[], cwd: string, env: Record<string, string> = {}): Promise<Host> {
  const child = launch(bin, args, cwd, { PORT: '0', ...env }, false);
  let out = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (out += c));
  const stop = (): Promise<void> => killGroup(child, 2000);
  try {
    const url = await within(
      new Promise<string>((resolve, reject) => {
        child.stdout!.setEncoding('utf8').on('data', (c: string) => {
          out += c;
          const m = /listening on (http:\/\/127\.0\.0\.1:\d+)\/events/.exec(out);
          if (m) resolve(m[1]);
        });
        child.once('exit', (code, signal) => reject(new Error(`${bin} exited (${code ?? signal}) before listening:\n${out}`)));
        child.once('error', reject);
      }),
      30_000,
      `${args.join(' ')} to listen`,
    );
    return { url, output: () => out, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Run workerd on `config`; resolves with the URL of each socket once all of `sockets` are bound. */
export async function startWorkerd(
  bin: string,
  config: string,
  cwd: string,
  sockets: readonly string[],
): Promise<{ urls: Record<string, string>; output(): string; stop(): Promise<void> }> {
  const child = launch(bin, ['serve', config, '--control-fd=3'], cwd, {}, true);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (out += c));
  const stop = (): Promise<void> => killGroup(child, 2000);
  const control = child.stdio[3] as NodeJS.ReadableStream;
  try {
    const urls = await within(
      new Promise<Record<string, string>>((resolve, reject) => {
        const found: Record<string, string> = {};
        let text = '';
        control.setEncoding('utf8');
        control.on('data', (c: string) => {
          text += c;
          const lines = text.split('\n');
          text = lines.pop()!;
          for (const line of lines) {
            const e = JSON.parse(line) as { event?: string; socket?: string; port?: number };
            if (e.event === 'listen' && e.socket !== undefined) found[e.socket] = `http://127.0.0.1:${e.port}`;
          }
          if (sockets.every((s) => found[s] !== undefined)) resolve(found);
        });
        child.once('exit', (code, signal) => reject(new Error(`workerd exited (${code ?? signal}) before listening:\n${out}`)));
        child.once('error', reject);
      }),
      30_000,
      'workerd to listen',
    );
    return { urls, output: () => out, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
