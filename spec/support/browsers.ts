/**
 * Real browsers for the scenario tests: headless Chromium over the DevTools
 * protocol and headless Firefox ESR over WebDriver BiDi, both driven by
 * puppeteer-core (which never downloads a browser: it runs the Debian
 * binaries). Each launch gets a fresh profile that puppeteer removes on close.
 *
 * No network beyond loopback: both browsers send any request for another host
 * to an HTTP proxy at a closed port on 127.0.0.1, where it fails at once (no DNS
 * lookup, no packet leaves the machine); loopback addresses and `localhost`
 * never go through a proxy. Background services that would call home are off.
 */
import puppeteer, { type Browser } from 'puppeteer-core';
import { freePort } from './realworld.ts';

export type Engine = 'chromium' | 'firefox';

/** Firefox preferences: background traffic off, and the proxy trap above. */
function firefoxPrefs(trap: number): Record<string, unknown> {
  return {
    'network.proxy.type': 1, // manual
    'network.proxy.http': '127.0.0.1',
    'network.proxy.http_port': trap,
    'network.proxy.ssl': '127.0.0.1',
    'network.proxy.ssl_port': trap,
    'network.proxy.no_proxies_on': '',
    'network.proxy.allow_hijacking_localhost': false, // loopback stays direct (the default, spelled out)
    'network.trr.mode': 5, // no DNS over HTTPS
    'network.dns.disablePrefetch': true,
    'network.prefetch-next': false,
    'network.predictor.enabled': false,
    'network.captive-portal-service.enabled': false,
    'network.connectivity-service.enabled': false,
    'app.update.auto': false,
    'browser.safebrowsing.update.enabled': false,
    'browser.ping-centre.telemetry': false,
    'toolkit.telemetry.enabled': false,
    'toolkit.telemetry.server': '',
    'datareporting.policy.dataSubmissionEnabled': false,
    'dom.push.enabled': false,
    'media.gmp-gmpopenh264.enabled': false,
  };
}

/** Launch `engine` headless from `binary`. Close it with `browser.close()`. */
export async function launchBrowser(engine: Engine, binary: string): Promise<Browser> {
  const trap = await freePort();
  if (engine === 'chromium') {
    return puppeteer.launch({
      browser: 'chrome',
      executablePath: binary,
      headless: true,
      protocolTimeout: 30_000,
      args: [
        '--no-sandbox', // CI runs as root
        '--disable-gpu',
        '--disable-quic',
        '--disable-renderer-backgrounding',
        '--disable-background-timer-throttling',
        `--proxy-server=http://127.0.0.1:${trap}`,
      ],
    });
  }
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: binary,
    headless: true,
    protocolTimeout: 30_000,
    extraPrefsFirefox: firefoxPrefs(trap),
  });
}
