/**
 * Caddy in front of the upstream and the demo (./support/proxies.ts): the
 * shared proxy scenarios (./support/proxy-scenarios.ts). Caddy's reverse_proxy
 * flushes `text/event-stream` responses at once; the transport's `read_timeout`
 * is the idle timeout an event stream must beat with heartbeats.
 */
import { proxyScenarios } from './support/proxy-scenarios.ts';
import { startCaddy } from './support/proxies.ts';
import { findCaddy } from './support/realworld.ts';

proxyScenarios({
  name: 'caddy',
  binary: findCaddy(),
  hint: 'set CADDY_BIN or apt-get install caddy',
  start: startCaddy,
  idleCut: /"msg":"aborting with incomplete response","error":"read tcp [^"]+: i\/o timeout"/,
  // Measured with Caddy 2.6.2: it writes the terminating chunk, so the client sees a
  // complete response (a browser reconnects all the same).
  idleCutAs: 'end',
  consumesAccelBuffering: false,
});
