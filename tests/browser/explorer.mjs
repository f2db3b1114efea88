// The API explorer in a real browser: headless Chromium opens /docs, authorises with a staff
// token, runs "Try it out" on the customer search and must see the 200. Prints the plain
// closing line 'N passed, N failed' and keeps a screenshot.
//
//   API_BASE=http://127.0.0.1:3000 PLAYWRIGHT_PREFIX=$PWD/.local/browser node tests/browser/explorer.mjs
import { createRequire } from 'node:module';

// playwright-core lives where scripts/browser-test installed it (.local/browser by default).
const require = createRequire(`${process.env.PLAYWRIGHT_PREFIX ?? '.local/browser'}/`);
const { chromium } = require('playwright-core');

const base = process.env.API_BASE ?? 'http://127.0.0.1:3000';
const screenshot = process.env.SCREENSHOT ?? 'docs/api-explorer.png';
const chrome = process.env.CHROMIUM ?? '/usr/bin/chromium';

async function staffToken() {
  const response = await fetch(`${base}/v1/auth/staff/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      email: process.env.LOCAL_ADMIN_EMAIL ?? 'admin@example.com',
      password: process.env.LOCAL_ADMIN_PASSWORD ?? 'local-admin-password',
    }),
  });
  if (response.status !== 200) throw new Error(`staff login answered ${response.status}`);
  return (await response.json()).access_token;
}

async function run() {
  const token = await staffToken();
  const browser = await chromium.launch({
    executablePath: chrome,
    args: ['--headless', '--no-sandbox', '--disable-background-networking'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
    const outside = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(base)) outside.push(request.url());
    });
    await page.goto(`${base}/docs`);
    await page.waitForSelector('.swagger-ui .info .title', { timeout: 30000 });

    await page.click('.swagger-ui .auth-wrapper button.authorize');
    const dialog = page.locator('.swagger-ui .modal-ux');
    await dialog.locator('input').first().fill(token);
    await dialog.locator('button.authorize').first().click();
    await dialog.locator('button.btn-done').first().click();

    const operation = page.locator('[id^="operations-"][id$="-searchCustomersByQuery"]');
    await operation.locator('.opblock-summary').first().click();
    await operation.locator('button.try-out__btn').click();
    await operation.locator('button.execute').click();
    const status = operation.locator('.live-responses-table tbody .response-col_status').first();
    await status.waitFor({ timeout: 30000 });
    const code = (await status.innerText()).trim();
    await operation.scrollIntoViewIfNeeded();
    await page.screenshot({ path: screenshot, fullPage: false });
    if (code !== '200') throw new Error(`"Try it out" answered ${code}`);
    if (outside.length) throw new Error(`the explorer loaded from elsewhere: ${outside.join(', ')}`);
  } finally {
    await browser.close();
  }
}

try {
  await run();
  console.log('explorer: 1 passed, 0 failed');
} catch (error) {
  console.error(`explorer: ${error.stack ?? error}`);
  console.log('explorer: 0 passed, 1 failed');
  process.exit(1);
}
