/**
 * Reverse proxies run as the test's own child processes, in the foreground,
 * with a config whose every path is inside a fresh temp dir, listening on
 * 127.0.0.1 at a port picked free a moment before (retried once if another
 * process took it meanwhile). Each has the same three routes, so that one set
 * of scenarios (./proxy-scenarios.ts) runs through all of them:
 *
 *   /          -> the test's upstream, the proxy's default timeouts
 *   /short/*   -> the same upstream, prefix stripped, with an idle (read) timeout of `idleMs`
 *   /demo/*    -> the demo server, prefix stripped
 *
 * and every answer carries `X-Proxied-By: <name>`, set by the proxy.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, killGroup, waitForPort } from './realworld.ts';

export interface RunningProxy {
  readonly port: number;
  /** What it logged so far (its log file, or its stdout and stderr). */
  log(): string;
  /** End the process (TERM, then KILL) and remove its temp dir. */
  close(): Promise<void>;
}

export interface ProxyRoutes {
  /** Port of the upstream behind `/` and `/short/`. */
  upstream: number;
  /** Port of the demo behind `/demo/`. */
  demo: number;
  /** The idle timeout of `/short/`, in ms. */
  idleMs: number;
}

/**
 * Write a config for `port` into a fresh temp dir, spawn the process, and wait
 * until it accepts connections. `launch` returns the child and how to read its log.
 */
async function startDaemon(
  name: string,
  launch: (dir: string, port: number) => { child: ChildProcess; log(): string },
): Promise<RunningProxy> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), `ssepipe-${name}-`));
    const { child, log } = launch(dir, port);
    let spawnError = '';
    child.on('error', (err) => (spawnError = String(err)));
    const close = async (): Promise<void> => {
      await killGroup(child, 2000);
      rmSync(dir, { recursive: true, force: true });
    };
    try {
      await waitForPort(port, 100, 50, () => child.exitCode === null && child.signalCode === null);
      return { port, log, close };
    } catch (err) {
      const text = spawnError + log();
      await close();
      if (attempt === 1 && /address already in use|cannot bind socket/i.test(text)) continue;
      throw new Error(`${name} did not start: ${(err as Error).message}\n${text}`);
    }
  }
}

/** Spawn `binary` in its own process group (for killGroup), collecting stdout and stderr. */
function spawnLogged(binary: string, args: string[], env: NodeJS.ProcessEnv = process.env): { child: ChildProcess; log(): string } {
  const child = spawn(binary, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (out += c));
  return { child, log: () => out };
}

// ---------------------------------------------------------------------------
// nginx

/** The recommended location body: HTTP/1.1 to the upstream without `Connection: close`. */
export const nginxProxy = (upstream: string, extra = ''): string => `
      proxy_pass ${upstream};
      proxy_http_version 1.1;
      proxy_set_header Connection '';
      proxy_buffering on;
${extra}`;

/**
 * The README's location block (examples/nginx.conf) as printed, at `/readme/`
 * instead of `/sse`, towards the test's upstream instead of 127.0.0.1:8080.
 */
export function nginxReadmeLocation(upstream: string): string {
  const text = readFileSync(join(__dirname, '..', '..', 'examples', 'nginx.conf'), 'utf8');
  const moved = text.replace(/^location \/sse \{$/m, 'location /readme/ {').replace(/^(\s+proxy_pass )http:\/\/127\.0\.0\.1:8080;$/m, `$1${upstream}/;`);
  if (!moved.includes('location /readme/ {') || !moved.includes(`proxy_pass ${upstream}/;`)) throw new Error('examples/nginx.conf: no `location /sse {` or no `proxy_pass http://127.0.0.1:8080;` line');
  return moved;
}

/** The seed article's location body: proxy_pass, everything else nginx's defaults. */
export const nginxSeedProxy = (upstream: string): string => `
      proxy_pass ${upstream};
      proxy_buffering on; # nginx's default, spelled out: X-Accel-Buffering: no must override it
`;

/**
 * nginx (one process) with `http` as the body of its `http { }` block (an
 * `upstream` and a `server` of your own); `listen(port)` gives the server's listen line.
 */
export function startNginxHttp(binary: string, http: (listen: string) => string): Promise<RunningProxy> {
  return startDaemon('nginx', (dir, port) => {
    const conf = [
      'daemon off;',
      'master_process off;',
      'worker_processes 1;',
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/error.log info;`,
      'events { worker_connections 256; }',
      'http {',
      `  access_log ${dir}/access.log;`,
      `  client_body_temp_path ${dir}/client_body;`,
      `  proxy_temp_path ${dir}/proxy;`,
      `  fastcgi_temp_path ${dir}/fastcgi;`,
      `  uwsgi_temp_path ${dir}/uwsgi;`,
      `  scgi_temp_path ${dir}/scgi;`,
      http(`127.0.0.1:${port}`),
      '}',
      '',
    ].join('\n');
    writeFileSync(join(dir, 'nginx.conf'), conf);
    return spawnLogged(binary, ['-p', `${dir}/`, '-e', `${dir}/error.log`, '-c', `${dir}/nginx.conf`]);
  });
}

/**
 * nginx (one process: `master_process off`) with the three routes; `/` is the
 * seed article's bare `proxy_pass`, `/v11/` the recommended HTTP/1.1 block.
 */
export function startNginx(binary: string, routes: ProxyRoutes): Promise<RunningProxy> {
  const up = `http://127.0.0.1:${routes.upstream}`;
  const server = `
    add_header X-Proxied-By nginx always;
    location / {${nginxSeedProxy(up)}    }
    location /v11/ {${nginxProxy(`${up}/`)}    }
    location /short/ {${nginxProxy(`${up}/`, `      proxy_read_timeout ${routes.idleMs}ms;\n`)}    }
    location /demo/ {${nginxProxy(`http://127.0.0.1:${routes.demo}/`)}    }
${nginxReadmeLocation(up)}
`;
  return startDaemon('nginx', (dir, port) => {
    const conf = [
      'daemon off;',
      'master_process off;',
      'worker_processes 1;',
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/error.log info;`,
      'events { worker_connections 64; }',
      'http {',
      `  access_log ${dir}/access.log;`,
      `  client_body_temp_path ${dir}/client_body;`,
      `  proxy_temp_path ${dir}/proxy;`,
      `  fastcgi_temp_path ${dir}/fastcgi;`,
      `  uwsgi_temp_path ${dir}/uwsgi;`,
      `  scgi_temp_path ${dir}/scgi;`,
      '  server {',
      `    listen 127.0.0.1:${port};`,
      server,
      '  }',
      '}',
      '',
    ].join('\n');
    writeFileSync(join(dir, 'nginx.conf'), conf);
    const { child, log } = spawnLogged(binary, ['-p', `${dir}/`, '-e', `${dir}/error.log`, '-c', `${dir}/nginx.conf`]);
    const errorLog = (): string => {
      try {
        return readFileSync(join(dir, 'error.log'), 'utf8');
      } catch {
        return '';
      }
    };
    return { child, log: () => log() + errorLog() };
  });
}

// ---------------------------------------------------------------------------
// haproxy

/**
 * haproxy in the foreground (`-db`), HTTP mode, logging each session to stdout
 * (`option httplog`: its termination state says who ended it, and when).
 * `timeout server` is the idle timeout towards the upstream (nginx's
 * proxy_read_timeout); `timeout client` the one towards the client.
 */
export function startHaproxy(binary: string, routes: ProxyRoutes): Promise<RunningProxy> {
  return startDaemon('haproxy', (dir, port) => {
    const conf = [
      'global',
      '  log stdout format raw local0 info',
      'defaults',
      '  mode http',
      '  log global',
      '  option httplog',
      '  timeout connect 2s',
      '  timeout client 60s',
      '  timeout server 60s',
      'frontend web',
      `  bind 127.0.0.1:${port}`,
      '  http-response set-header X-Proxied-By haproxy',
      '  use_backend short if { path_beg /short/ }',
      '  use_backend demo if { path_beg /demo/ }',
      '  default_backend upstream',
      'backend upstream',
      `  server up 127.0.0.1:${routes.upstream}`,
      'backend short',
      `  timeout server ${routes.idleMs}ms`,
      '  http-request replace-path /short(/.*) \\1',
      `  server up 127.0.0.1:${routes.upstream}`,
      'backend demo',
      '  http-request replace-path /demo(/.*) \\1',
      `  server demo 127.0.0.1:${routes.demo}`,
      '',
    ].join('\n');
    writeFileSync(join(dir, 'haproxy.cfg'), conf);
    return spawnLogged(binary, ['-db', '-f', join(dir, 'haproxy.cfg')]);
  });
}

// ---------------------------------------------------------------------------
// Caddy

/**
 * Caddy (`caddy run`, a Caddyfile) with no admin endpoint, no automatic HTTPS,
 * and its storage and autosave inside the temp dir. Its reverse_proxy flushes
 * `text/event-stream` responses as they come; the transport's `read_timeout` is
 * the idle timeout towards the upstream.
 */
export function startCaddy(binary: string, routes: ProxyRoutes): Promise<RunningProxy> {
  return startDaemon('caddy', (dir, port) => {
    const conf = [
      '{',
      '\tadmin off',
      '\tauto_https off',
      `\tstorage file_system ${dir}/data`,
      '}',
      `http://127.0.0.1:${port} {`,
      '\tbind 127.0.0.1',
      '\theader X-Proxied-By caddy',
      '\thandle_path /short/* {',
      `\t\treverse_proxy 127.0.0.1:${routes.upstream} {`,
      '\t\t\ttransport http {',
      `\t\t\t\tread_timeout ${routes.idleMs}ms`,
      '\t\t\t}',
      '\t\t}',
      '\t}',
      '\thandle_path /demo/* {',
      `\t\treverse_proxy 127.0.0.1:${routes.demo}`,
      '\t}',
      '\thandle {',
      `\t\treverse_proxy 127.0.0.1:${routes.upstream}`,
      '\t}',
      '}',
      '',
    ].join('\n');
    writeFileSync(join(dir, 'Caddyfile'), conf);
    // Caddy keeps its autosaved config and data under HOME / XDG dirs: the temp dir.
    const env = { ...process.env, HOME: dir, XDG_CONFIG_HOME: dir, XDG_DATA_HOME: dir };
    return spawnLogged(binary, ['run', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], env);
  });
}
