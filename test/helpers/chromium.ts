import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';

// The headless Chromium the dashboard suites drive (Debian's chromium through
// playwright-core; CHROMIUM_PATH overrides). Outside CI a machine without it
// skips those suites; under CI=true a missing browser is a failure.

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);

/** Registers a failing test named `suite` when CI has no Chromium (call at the top level of a test file). */
export function requireChromiumInCi(suite: string): void {
  if (haveChromium || !process.env.CI) return;
  describe(suite, () => {
    it('has Chromium to run in', () => {
      expect.fail(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
    });
  });
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}
