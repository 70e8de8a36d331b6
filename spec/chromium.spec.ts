/**
 * The seed article's scenarios and the demo in headless Chromium (DevTools
 * protocol): spec/support/browser-scenarios.ts, shared with spec/firefox.spec.ts.
 */
import { browserScenarios } from './support/browser-scenarios.ts';
import { findChromium } from './support/realworld.ts';

browserScenarios('chromium', findChromium());
