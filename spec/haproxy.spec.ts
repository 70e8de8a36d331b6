/**
 * haproxy in front of the upstream and the demo (./support/proxies.ts): the
 * shared proxy scenarios (./support/proxy-scenarios.ts). haproxy streams HTTP
 * responses as they come (no buffering to turn off); its `timeout server` is the
 * idle timeout an event stream must beat with heartbeats.
 */
import { proxyScenarios } from './support/proxy-scenarios.ts';
import { startHaproxy } from './support/proxies.ts';
import { findHaproxy } from './support/realworld.ts';

proxyScenarios({
  name: 'haproxy',
  binary: findHaproxy(),
  hint: 'set HAPROXY_BIN or apt-get install haproxy',
  start: startHaproxy,
  // The session log: its termination state "sD" = the server-side timeout struck during the data phase.
  idleCut: / 200 \d+ - - sD-- .*"GET \/short\/idle-silent HTTP\/1\.1"/,
  // It closes the connection without the terminating chunk.
  idleCutAs: 'aborted',
  consumesAccelBuffering: false,
});
