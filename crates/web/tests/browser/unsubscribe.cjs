// Opens an unsubscribe link in Chromium as a recipient would, checks that
// the page asks before doing anything, presses the button and reads the
// answer. Usage: node unsubscribe.cjs URL SCREENSHOT.png
const { chromium } = require('playwright-core');

(async () => {
  const [url, screenshot] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    args: process.env.CHROMIUM_FLAGS.split(' '),
    headless: true,
  });
  try {
    const page = await browser.newPage();
    const opened = await page.goto(url);
    if (opened.status() !== 200) throw new Error(`GET ${url} answered ${opened.status()}`);
    const heading = await page.textContent('h1');
    if (!heading.includes('Unsubscribe')) throw new Error(`unexpected heading: ${heading}`);
    console.log(`asked: ${heading.trim()}`);
    await Promise.all([page.waitForNavigation(), page.click('#confirm')]);
    const done = await page.textContent('#done');
    console.log(`answered: ${done.trim()}`);
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
