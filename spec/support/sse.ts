/**
 * Test support: servers on 127.0.0.1:0 and a client that reads events with our
 * parser, so tests await events instead of sleeping.
 */
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createParser } from '../../lib/parser.ts';
import type { ServerSentEvent } from '../../lib/types.ts';

export interface TestServer {
  server: http.Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function serve(handler: http.RequestListener): Promise<TestServer> {
  const server = http.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** An HTTP GET whose response is read as events; `raw` keeps the exact body text. */
export class EventClient {
  readonly events: ServerSentEvent[] = [];
  raw = '';
  ended = false;
  res!: http.IncomingMessage;
  req!: http.ClientRequest;
  private waiters: Array<{ count: number; resolve: () => void }> = [];
  private endWaiters: Array<() => void> = [];

  static async open(url: string, headers: Record<string, string> = {}): Promise<EventClient> {
    const client = new EventClient();
    client.req = http.get(url, { headers, agent: false });
    const [res] = (await once(client.req, 'response')) as [http.IncomingMessage];
    client.res = res;
    const parser = createParser({ onEvent: (event) => client.push(event) });
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      client.raw += chunk;
      parser.feed(chunk);
    });
    const finish = () => {
      if (client.ended) return;
      client.ended = true;
      for (const w of client.endWaiters) w();
      client.endWaiters = [];
    };
    res.on('end', finish);
    res.on('close', finish);
    res.on('error', () => undefined);
    return client;
  }

  private push(event: ServerSentEvent): void {
    this.events.push(event);
    this.waiters = this.waiters.filter((w) => {
      if (this.events.length < w.count) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves once `count` events arrived in total; rejects if the response ends first. */
  waitFor(count: number): Promise<ServerSentEvent[]> {
    if (this.events.length >= count) return Promise.resolve(this.events.slice(0, count));
    return new Promise((resolve, reject) => {
      this.waiters.push({ count, resolve: () => resolve(this.events.slice(0, count)) });
      this.endWaiters.push(() => {
        if (this.events.length < count) reject(new Error(`stream ended after ${this.events.length} of ${count} events`));
      });
    });
  }

  /** Resolves when the response ended (the server closed the stream). */
  waitEnd(): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise((resolve) => this.endWaiters.push(resolve));
  }

  close(): void {
    this.req.destroy();
  }
}
