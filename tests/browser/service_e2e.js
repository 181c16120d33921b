// Drives the `tod serve` web page in headless Chromium (playwright-core, Debian's chromium):
// log in with the token, create a task from a template, watch it reach 成功, read its log, switch
// to English and back, batch delete with the confirmation. Run by tests/py/test_service_browser.py.
// Env: TOD_URL, TOD_TOKEN_VALUE, TOD_SHOTS (screenshot dir), TOD_INPUT_DIR, TOD_PROFILE (fresh dir).
"use strict";
const { chromium } = require("playwright-core");
const path = require("path");

const url = process.env.TOD_URL;
const token = process.env.TOD_TOKEN_VALUE;
const shots = process.env.TOD_SHOTS;
const inputDir = process.env.TOD_INPUT_DIR;
const profile = process.env.TOD_PROFILE;
let failures = 0;

function check(cond, what) {
  console.log((cond ? "ok   " : "FAIL ") + what);
  if (!cond) failures++;
}

async function main() {
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync"],
    viewport: { width: 1280, height: 860 },
    locale: "zh-CN",
  });
  ctx.setDefaultTimeout(20000);
  const page = ctx.pages()[0] || (await ctx.newPage());
  const consoleErrors = [];
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  const shot = (name) => page.screenshot({ path: path.join(shots, name), fullPage: true });
  try {
    await page.goto(url + "/");
    await page.waitForSelector("#token-input");
    await shot("01-login.png");

    // a wrong token is refused
    await page.fill("#token-input", "wrong-token");
    await page.click("#login-btn");
    await page.waitForSelector("#login-error:not(.hidden)");
    check((await page.textContent("#login-error")).includes("令牌无效"), "a wrong token is refused (令牌无效)");

    await page.fill("#token-input", token);
    await page.click("#login-btn");
    await page.waitForSelector("#view-list:not(.hidden)");
    await page.waitForSelector("#task-table tbody tr[data-state=failed]");
    check(true, "logged in; the task list shows the existing failed task");
    check((await page.textContent("#task-table tbody tr[data-state=failed] .badge")) === "失败", "failed is shown as 失败");

    // create a task from a template
    await page.click("#new-task-btn");
    await page.waitForSelector("#tpl-cards .tpl");
    const all = await page.locator("#tpl-cards .tpl").count();
    await page.selectOption("#flt-chip", "x86");
    await page.waitForFunction((n) => document.querySelectorAll("#tpl-cards .tpl").length < n, all);
    const x86 = await page.locator("#tpl-cards .tpl").allTextContents();
    check(x86.length > 0 && x86.every((s) => s.includes("x86")), `chip filter x86 leaves ${x86.length} of ${all} cards`);
    await page.fill("#tpl-search", "MINDIR");
    await page.waitForFunction(() => [...document.querySelectorAll("#tpl-cards .tpl")].every((c) => c.textContent.includes("MINDIR")));
    check((await page.locator("#tpl-cards .tpl").count()) >= 1, "search MINDIR with chip x86 finds the MINDIR x86 cards");
    await page.fill("#tpl-search", "");
    await page.selectOption("#flt-fmt", ".onnx");
    await page.waitForSelector('#tpl-cards .tpl[data-id="onnx-x86-inference"]');
    await page.click('#tpl-cards .tpl[data-id="onnx-x86-inference"]');
    check(await page.isVisible('#tpl-cards .tpl.selected[data-id="onnx-x86-inference"]'), "the chosen card is highlighted");
    check(await page.isVisible("#opt-input_format"), "the template's advanced options appear");
    await page.fill("#f-name", "bad name!");
    await page.fill("#f-input", inputDir);
    await page.fill("#f-output", "out/browser");
    await page.click("#create-btn");
    await page.waitForSelector("#create-error:not(.hidden)");
    check((await page.textContent("#create-error")).includes("name"), "the server's refusal is shown in the form");
    await page.fill("#f-name", "浏览器任务_1");
    await page.fill("#f-desc", "created through the page");
    await page.selectOption("#opt-input_format", "NHWC");
    await shot("02-create.png");
    await page.click("#create-btn");

    // watch it reach 成功
    await page.waitForSelector("#view-list:not(.hidden)");
    const row = page.locator("#task-table tbody tr", { hasText: "浏览器任务_1" });
    await row.waitFor();
    await page.waitForFunction(() => {
      const r = [...document.querySelectorAll("#task-table tbody tr")].find((x) => x.textContent.includes("浏览器任务_1"));
      return r && r.querySelector(".badge").textContent === "成功";
    }, null, { timeout: 60000 });
    check(true, "the new task reaches 成功 in the list");
    await shot("03-list-zh.png");

    // English toggle
    await page.click("#lang-toggle");
    await page.waitForFunction(() => document.querySelector("#new-task-btn").textContent === "Create task");
    check((await row.locator(".badge").textContent()) === "Succeeded", "English toggle: Succeeded");
    check((await page.textContent("#task-table tbody tr[data-state=failed] .badge")) === "Failed", "English toggle: Failed");
    await shot("04-list-en.png");
    await page.click("#lang-toggle");
    await page.waitForFunction(() => document.querySelector("#new-task-btn").textContent === "创建任务");

    // detail with log
    await row.locator(".task-link").click();
    await page.waitForSelector("#view-detail:not(.hidden)");
    await page.waitForFunction(() => document.querySelector("#log-pre").textContent.includes("CONVERT RESULT SUCCESS:0"));
    const log = await page.textContent("#log-pre");
    check(log.includes("--inputDataFormat=NHWC"), "the detail view shows the log with the chosen option");
    check((await page.textContent('#detail-kv dd[data-key="k_files"]')).includes(".ms"), "the detail view lists the .ms output");
    await shot("05-detail.png");
    await page.click("#back-btn");
    await page.waitForSelector("#view-list:not(.hidden)");

    // the failed task's detail shows its FAILED log
    await page.locator("#task-table tbody tr[data-state=failed] .task-link").click();
    await page.waitForFunction(() => document.querySelector("#log-pre").textContent.includes("CONVERT RESULT FAILED"));
    check(await page.isVisible('#detail-kv dd[data-key="k_error"]'), "a failed task's detail shows the reason and the FAILED log");
    await shot("06-detail-failed.png");
    await page.click("#back-btn");
    await page.waitForSelector("#view-list:not(.hidden)");

    // batch delete: select all rows, confirm
    const rows = await page.locator("#task-table tbody tr").count();
    check(rows >= 2, `${rows} tasks listed before the batch delete`);
    await page.locator("#task-table tbody tr .row-check").nth(0).check();
    await page.locator("#task-table tbody tr .row-check").nth(1).check();
    check(await page.isEnabled("#batch-delete-btn"), "checking rows enables the batch delete button");
    await page.click("#batch-delete-btn");
    await page.waitForSelector("#confirm-dialog:not(.hidden)");
    const warn = await page.textContent("#confirm-dialog");
    check(warn.includes("无法恢复"), "the confirmation says deletion cannot be undone (无法恢复)");
    await shot("07-confirm-delete.png");
    await page.click("#confirm-ok");
    await page.waitForFunction((n) => document.querySelectorAll("#task-table tbody tr").length === n - 2, rows);
    check(true, "the two checked tasks are gone from the list");
    await shot("08-after-delete.png");
    check(consoleErrors.length === 0, "no page errors " + JSON.stringify(consoleErrors));
  } catch (e) {
    check(false, "browser flow: " + e.message);
    await shot("99-failure.png").catch(() => {});
  } finally {
    await ctx.close();
  }
  process.exit(failures ? 1 : 0);
}

main().catch((e) => { console.error(e); process.exit(1); });
