// The web console end to end in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core),
// against the real gateway that tests/browser/test_console.py started on SQLite with a mock OpenAI upstream.
//
//   node tests/browser/console_flow.mjs   with BASE_URL, UPSTREAM_URL, SHOTS_DIR (and CHROMIUM) in the environment
//
// Root adds a channel and tests it, creates 5 redemption codes, sets the system name, home page and notice;
// a new user registers, logs in, redeems a code, creates a token, copies its key, calls /v1/chat/completions
// with it, then sees the log row and the balance change. Exit code 0 only when every step passed.
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const require = createRequire(new URL('../../web/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const BASE = process.env.BASE_URL;
const UPSTREAM = process.env.UPSTREAM_URL;
const SHOTS = process.env.SHOTS_DIR;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const STEP_TIMEOUT = 15000;

if (!BASE || !UPSTREAM || !SHOTS) throw new Error('BASE_URL, UPSTREAM_URL and SHOTS_DIR must be set');
mkdirSync(SHOTS, { recursive: true });

const started = Date.now();
let current = null;
const log = (text) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${text}`);

async function step(name, fn) {
  current = name;
  const t0 = Date.now();
  await fn();
  log(`ok   ${name} (${Date.now() - t0} ms)`);
}

function fail(message) {
  throw new Error(message);
}

async function shot(page, name) {
  await page.waitForTimeout(150);   // let toasts and charts settle
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** A fresh browser context (cookies, localStorage) in English, allowed to use the clipboard. */
async function newUser(browser, extra = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'en-US', ...extra });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
  context.setDefaultTimeout(STEP_TIMEOUT);
  const page = await context.newPage();
  page.on('pageerror', (error) => log(`page error: ${error.message}`));
  page.on('console', (msg) => msg.type() === 'error' && log(`console error: ${msg.text()}`));
  page.on('response', (r) => r.status() >= 500 && log(`HTTP ${r.status()} ${r.url()}`));
  return page;
}

async function login(page, username, password) {
  await page.goto(`${BASE}/login`);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.click('form button[type=submit]');
  await page.waitForURL('**/dashboard');
}

async function toast(page, text) {
  await page.locator('.toast', { hasText: text }).first().waitFor();
}

async function clipboard(page) {
  return page.evaluate(() => navigator.clipboard.readText());
}

/** Navigate inside the app (no reload), the way a user clicks a link. */
async function go(page, path) {
  await page.evaluate((to) => {
    window.history.pushState(null, '', to);
    window.dispatchEvent(new PopStateEvent('popstate'));
  }, path);
}

/** Reload `path` until `check` passes: usage is settled and logged in the background. */
async function eventually(page, path, check, what) {
  const deadline = Date.now() + 20000;
  for (;;) {
    await page.goto(`${BASE}${path}`);
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) fail(`${what}: ${error.message}`);
      await page.waitForTimeout(700);
    }
  }
}

const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
let root;
let user;
try {
  root = await newUser(browser);
  user = await newUser(browser);
  const codes = [];
  let key = '';
  let balanceBefore = '';

  await step('login page renders (public)', async () => {
    await root.goto(`${BASE}/login`);
    await root.locator('h2', { hasText: 'Log in' }).waitFor();
    await shot(root, 'login');
  });

  await step('root logs in', async () => {
    await login(root, 'root', '123456');
    await root.locator('[data-testid=current-user]', { hasText: 'Root User' }).waitFor();
    await root.locator('a.nav-link', { hasText: 'Channels' }).waitFor();   // admin navigation shown
  });

  await step('root adds a channel to the mock upstream', async () => {
    await root.click('a.nav-link:has-text("Channels")');
    await root.click('[data-testid=add-channel]');
    await root.waitForURL('**/channel/add');
    // the form of each type comes from GET /api/channel/types (rules/channel_types.toml)
    await root.selectOption('select[name=type]', '3');
    await root.locator('.field-label', { hasText: 'AZURE_OPENAI_ENDPOINT' }).waitFor();
    await root.locator('.field-label', { hasText: 'API version' }).waitFor();
    if ((await root.getAttribute('input[name=key]', 'placeholder')) !== 'AZURE_OPENAI_KEY') fail('no Azure key hint');
    await root.selectOption('select[name=type]', '33');
    if ((await root.getAttribute('input[name=config-region]', 'placeholder')) !== 'us-east-1') fail('no AWS region field');
    await root.selectOption('select[name=type]', '1');
    if (await root.locator('input[name=config-region]').count()) fail('AWS fields stayed on an OpenAI channel');
    await root.fill('input[name=name]', 'mock-openai');
    await root.fill('input[name=base_url]', UPSTREAM);
    await root.fill('input[name=key]', 'sk-upstream-secret');
    await root.click('button:has-text("Clear")');
    await root.fill('input[name=models-input]', 'gpt-4o-mini');
    await root.press('input[name=models-input]', 'Enter');
    await root.locator('.chip', { hasText: 'gpt-4o-mini' }).waitFor();
    await root.fill('textarea[name=model_mapping]', '{"gpt-4o-mini": 1}');
    await root.locator('[data-testid=model_mapping-validity]', { hasText: 'Invalid' }).waitFor();
    if (!(await root.locator('[data-testid=submit-channel]').isDisabled())) fail('submit allowed with an invalid mapping');
    await root.fill('textarea[name=model_mapping]', '');
    await shot(root, 'channel-add');
    await root.click('[data-testid=submit-channel]');
    await root.waitForURL('**/channel');
    await root.locator('tr[data-channel="mock-openai"]').waitFor();
  });

  await step('root tests the channel and sees its response time', async () => {
    const row = root.locator('tr[data-channel="mock-openai"]');
    await row.locator('[data-testid=response-time]', { hasText: 'untested' }).waitFor();
    await row.locator('[data-testid=test-channel]').click();
    await toast(root, 'works');
    await row.locator('[data-testid=response-time]', { hasText: / s$/ }).waitFor();
    await shot(root, 'channels');
  });

  await step('root creates 5 redemption codes and copies them', async () => {
    await root.click('a.nav-link:has-text("Redemption")');
    await root.click('[data-testid=add-codes]');
    await root.fill('input[name=name]', 'e2e');
    await root.fill('input[name=quota]', '10');
    await root.fill('input[name=count]', '5');
    await root.click('[data-testid=submit-codes]');
    const text = await root.locator('[data-testid=keys-text]').inputValue();
    codes.push(...text.split('\n').filter(Boolean));
    if (codes.length !== 5 || !codes.every((c) => /^[0-9a-f]{32}$/.test(c))) fail(`expected 5 codes, got ${JSON.stringify(codes)}`);
    await root.click('[data-testid=copy-all-keys]');
    await toast(root, 'copied');
    if ((await clipboard(root)) !== codes.join('\n')) fail('clipboard does not hold the 5 codes');
    await shot(root, 'redemption-codes-created');
    await root.click('.modal .icon-btn');
    await root.waitForURL('**/redemption');
    await root.locator('[data-testid=codes-table] tbody tr').nth(4).waitFor();
    if ((await root.locator('[data-testid=codes-table] tbody tr').count()) !== 5) fail('code list does not show 5 codes');
    await root.fill('input[placeholder="Search by ID or name prefix"]', 'e2e');   // the shared list table's search
    await root.click('form.toolbar button[type=submit]');
    await root.locator('.pager').waitFor({ state: 'detached' });
    if ((await root.locator('[data-testid=codes-table] tbody tr').count()) !== 5) fail('search for "e2e" does not show 5 codes');
    await root.fill('input[placeholder="Search by ID or name prefix"]', '');
    await root.click('form.toolbar button[type=submit]');
    await root.locator('.pager').waitFor();
    await shot(root, 'redemptions');
  });

  await step('root sets system name, home page and notice', async () => {
    await root.click('a.nav-link:has-text("Settings")');
    await root.click('button[role=tab]:has-text("Other")');
    await root.fill('input[name=SystemName]', 'Acme Gateway');
    await root.click('[data-testid=save-brand]');
    await toast(root, 'Saved');
    await root.fill('textarea[name=HomePageContent]', '# Welcome to Acme\n\nKeys for **every** model.');
    await root.click('[data-testid=save-home]');
    await toast(root, 'Saved');
    await root.fill('textarea[name=Notice]', 'Maintenance on Sunday');
    await root.click('[data-testid=save-notice]');
    await root.locator('[data-testid=system-name]', { hasText: 'Acme Gateway' }).waitFor();
    await shot(root, 'settings-other');
    await root.click('button[role=tab]:has-text("Operation")');
    await root.locator('[data-testid=ModelRatio-validity]', { hasText: 'Valid JSON' }).waitFor();
    await shot(root, 'settings-operation');
  });

  await step('a visitor sees the new name, home page and the notice once', async () => {
    await user.goto(`${BASE}/`);
    await user.locator('[data-testid=system-name]', { hasText: 'Acme Gateway' }).waitFor();
    await user.locator('[data-testid=home-content] h1', { hasText: 'Welcome to Acme' }).waitFor();
    await user.locator('[data-testid=notice]', { hasText: 'Maintenance on Sunday' }).waitFor();
    if ((await user.title()) !== 'Acme Gateway') fail(`title is ${await user.title()}`);
    await shot(user, 'home');
    await user.click('.modal button:has-text("Got it")');
    await user.reload();
    await user.locator('[data-testid=home-content] h1').waitFor();
    await user.waitForTimeout(500);
    if (await user.locator('[data-testid=notice]').count()) fail('the notice was shown twice');
  });

  await step('a new user registers and logs in', async () => {
    await user.click('a:has-text("Register")');
    await user.fill('input[name=username]', 'alice');
    await user.fill('input[name=password]', 'alice-pass-1');
    await user.fill('input[name=confirm]', 'alice-pass-1');
    await shot(user, 'register');
    await user.click('form button[type=submit]');
    await user.waitForURL('**/login');
    await toast(user, 'Registered');
    await login(user, 'alice', 'alice-pass-1');
    await user.locator('[data-testid=balance]', { hasText: '$0.00' }).waitFor();
    if (await user.locator('a.nav-link:has-text("Channels")').count()) fail('a common user sees admin navigation');
  });

  await step('the user redeems a code', async () => {
    await user.click('a.nav-link:has-text("Top up")');
    await user.fill('input[name=redemption-key]', codes[0]);
    await user.click('button:has-text("Redeem")');
    await toast(user, '$10.00 added');
    await user.locator('[data-testid=balance]', { hasText: '$10.00' }).waitFor();
    balanceBefore = await user.locator('[data-testid=balance]').innerText();
    await shot(user, 'topup');
  });

  await step('the user creates a token and copies its key', async () => {
    await user.click('a.nav-link:has-text("Tokens")');
    await user.click('[data-testid=add-token]');
    await user.fill('input[name=name]', 'e2e-key');
    await user.fill('input[name=subnet]', '10.0.0.1');
    await user.locator('.field-error', { hasText: 'invalid CIDR' }).waitFor();
    await user.fill('input[name=subnet]', '');
    await user.fill('input[name=quota]', '5');
    await user.click('[data-testid=submit-token]');
    await user.waitForURL('**/token');
    const row = user.locator('tr[data-token="e2e-key"]');
    await row.waitFor();
    await row.locator('[data-testid=copy-key]').click();
    await toast(user, 'Key copied');
    key = await clipboard(user);
    if (!/^sk-[0-9A-Za-z]{48}$/.test(key)) fail(`clipboard holds ${JSON.stringify(key)}, not a key`);
    await shot(user, 'tokens');
  });

  await step('the copied key calls /v1/chat/completions through the gateway', async () => {
    const response = await fetch(`${BASE}/v1/chat/completions`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }] }),
    });
    const body = await response.json();
    if (response.status !== 200) fail(`chat completion answered ${response.status}: ${JSON.stringify(body)}`);
    if (body.choices?.[0]?.message?.content !== 'Hello there!') fail(`unexpected answer ${JSON.stringify(body)}`);
  });

  await step('the user sees the log row, the quota total and the balance change', async () => {
    await eventually(user, '/log', async () => {
      const row = user.locator('[data-testid=logs-table] tbody tr[data-type="2"]').first();
      await row.waitFor({ timeout: 1500 });
      const text = await row.innerText();
      if (!text.includes('gpt-4o-mini') || !text.includes('e2e-key')) fail(`log row reads ${text}`);
      // the per-part prices of the row (#16): gpt-4o-mini at $0.15 in, $0.60 out per 1M tokens
      const prices = await row.locator('[data-testid=part-prices]').innerText();
      if (prices !== 'in 200000 × $0.15/M · out 100000 × $0.6/M') fail(`part prices read ${prices}`);
      if (!text.includes('upstream')) fail(`log row has no usage source: ${text}`);
      const total = await user.locator('[data-testid=log-total]').innerText();
      if (total !== '$0.09') fail(`quota total reads ${total}`);
    }, 'consume log row');
    await shot(user, 'logs');
    await eventually(user, '/dashboard', async () => {
      await user.waitForFunction(() => document.querySelector('[data-testid=balance]')?.textContent?.startsWith('$'), null, { timeout: 3000 });
      const now = await user.locator('[data-testid=balance]').innerText();
      if (now !== '$9.91') fail(`balance reads ${now}, was ${balanceBefore}`);
      await user.locator('[data-testid=request-count]', { hasText: '1' }).waitFor({ timeout: 1500 });
      await user.locator('.chart rect').first().waitFor({ timeout: 1500 });
    }, 'balance change');
    log(`balance ${balanceBefore} -> ${await user.locator('[data-testid=balance]').innerText()}`);
    await shot(user, 'dashboard');
  });

  await step('the user switches to Chinese and to the dark theme', async () => {
    await user.click('[data-testid=lang-toggle]');
    await user.locator('a.nav-link', { hasText: '令牌' }).waitFor();
    await user.click('[data-testid=theme-toggle]');
    if ((await user.getAttribute('html', 'data-theme')) !== 'dark') fail('dark theme not applied');
    await go(user, '/token');
    await user.locator('tr[data-token="e2e-key"]').waitFor();
    await shot(user, 'tokens-zh-dark');
    await user.reload();   // both choices are remembered
    await user.locator('a.nav-link', { hasText: '令牌' }).waitFor();
    if ((await user.getAttribute('html', 'data-theme')) !== 'dark') fail('dark theme not remembered');
  });

  await step('root sees every user\'s logs and the users list', async () => {
    await go(root, '/log');
    const row = root.locator('[data-testid=logs-table] tbody tr[data-type="2"]').first();
    await row.waitFor();
    if (!(await row.innerText()).includes('alice')) fail('admin log row lacks the username');
    await shot(root, 'logs-admin');
    await go(root, '/user');
    await root.locator('tr[data-user="alice"]').waitFor();
    await shot(root, 'users');
    await go(root, '/setting?tab=system');
    await root.reload();
    await root.locator('section[data-group=smtp]').waitFor();
    await root.waitForTimeout(400);
    if (await root.locator('[data-testid=notice]').count()) fail('the notice popped up for the root who wrote it');
    await shot(root, 'settings-system');
  });

  await step('root enables GitHub login and the login page offers it; about page default', async () => {
    await root.fill('input[name=GitHubClientId]', 'gh-client-id');
    await root.click('[data-testid=save-github]');
    await toast(root, 'Saved');
    await root.click('label.toggle:has(input[name=GitHubOAuthEnabled])');
    await root.waitForFunction(() => document.querySelector('input[name=GitHubOAuthEnabled]')?.checked);
    await root.waitForFunction(async () => (await (await fetch('/api/status')).json()).data.github_oauth === true,
                               null, { polling: 200, timeout: 15000 });   // saved, not only ticked
    const visitor = await newUser(browser);
    await visitor.goto(`${BASE}/login`);
    await visitor.locator('.oauth button', { hasText: 'GitHub' }).waitFor();
    await visitor.click('.modal button:has-text("Got it")');   // the notice, once
    await shot(visitor, 'login-github');
    await go(visitor, '/about');
    await visitor.locator('h2', { hasText: 'About' }).waitFor();
    await visitor.context().close();
  });

  await step('root imports prices after a preview of the diff; visitors see the price page once it is public', async () => {
    await go(root, '/setting?tab=operation');
    await root.reload();
    await root.click('[data-testid=import-prices]');
    await root.fill('textarea[name=price-file]', '{"models": {"gpt-4o-mini": {"input": 0.3, "output": 1.2, "cache_read": 0.15}}}');
    await root.click('[data-testid=price-preview]');
    const diff = root.locator('[data-testid=price-diff] tr[data-model="gpt-4o-mini"]');
    await diff.waitFor();
    const text = await diff.innerText();
    if (!text.includes('input: $0.15 → $0.3') || !text.includes('output: $0.6 → $1.2')) fail(`diff reads ${text}`);
    await shot(root, 'price-import');
    await root.click('[data-testid=price-apply]');
    await toast(root, 'Prices imported');
    const visitor = await newUser(browser);
    await visitor.goto(`${BASE}/pricing`);
    await visitor.click('.modal button:has-text("Got it")');   // the notice, once
    await visitor.locator('text=Log in to see the prices.').waitFor();
    if (await visitor.locator('a.nav-link:has-text("Pricing")').count()) fail('Pricing offered to visitors while not public');
    await root.click('label.toggle:has(input[name=PublicPricingEnabled])');
    await root.waitForFunction(() => document.querySelector('input[name=PublicPricingEnabled]')?.checked);
    // the box flips at the click; the option is saved a moment later (CI flaked reloading before that)
    await visitor.waitForFunction(async () => (await (await fetch('/api/status')).json()).data.public_pricing === true,
                                  null, { polling: 200, timeout: 15000 });
    await visitor.reload();
    const row = visitor.locator('[data-testid=pricing-table] tr[data-model="gpt-4o-mini"]');
    await row.waitFor();
    const cells = await row.locator('td').allInnerTexts();
    if (cells[1] !== '$0.3' || cells[2] !== '$1.2' || cells[3] !== '$0.15') fail(`price row reads ${cells.join(' | ')}`);
    await visitor.locator('a.nav-link', { hasText: 'Pricing' }).waitFor();
    await shot(visitor, 'pricing');
    await visitor.fill('[data-testid=pricing-search]', 'no-such-model');
    await row.waitFor({ state: 'detached' });
    await visitor.context().close();
  });

  log(`all steps passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
} catch (error) {
  log(`FAILED in step "${current}": ${error.stack || error}`);
  for (const [name, page] of [['root', root], ['user', user]]) {
    const toasts = page ? await page.locator('.toast').allInnerTexts().catch(() => []) : [];
    if (toasts.length) log(`${name}'s toasts: ${toasts.join(' | ')}`);
    if (page) await page.screenshot({ path: join(SHOTS, `failure-${name}.png`), fullPage: true }).catch(() => {});
  }
  process.exitCode = 1;
} finally {
  await browser.close();
}
