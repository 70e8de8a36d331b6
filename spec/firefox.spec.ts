/**
 * The seed article's scenarios and the demo in headless Firefox ESR, a second
 * engine (WebDriver BiDi): spec/support/browser-scenarios.ts, shared with
 * spec/chromium.spec.ts.
 */
import { browserScenarios } from './support/browser-scenarios.ts';
import { findFirefox } from './support/realworld.ts';

browserScenarios('firefox', findFirefox());
