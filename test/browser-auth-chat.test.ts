// examples/auth-chat in a real browser (Debian's chromium, playwright-core):
// log in, chat in two browsers as two users, log out, the socket closes.
import t from 'tap'
import { existsSync } from 'node:fs'
import { writeFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { startExample } from './helpers.ts'

const executablePath = '/usr/bin/chromium'
const WAIT = 10000
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync']

// The smallest valid PNG (1x1, transparent).
const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000' + '1f15c4890000000d49444154789c6300010000000500010d0a2db40000000049454e44ae426082', 'hex')

if (!existsSync(executablePath)) {
  if (process.env.CI === 'true') t.fail(`${executablePath} is missing: CI must run the browser test (apt-get install chromium)`)
  else t.pass(`skipped: ${executablePath} not found`, { skip: true })
} else {
  t.test('two users log in, chat, upload an avatar; logging out closes the socket', async (t) => {
    const media = await mkdtemp(join(tmpdir(), 'auth-chat-media-'))
    t.teardown(() => rm(media, { recursive: true, force: true }))
    const base = await startExample(t, 'examples/auth-chat/server.ts', { MEDIA_ROOT: media, SECRET_KEY: 'a-test-secret-key-of-more-than-32-characters' })
    const consoleLines: string[] = []

    // Two browsers, not two pages: each has its own cookie jar, as two people.
    const browsers: Browser[] = []
    const open = async (username: string, password: string): Promise<Page> => {
      const browser = await chromium.launch({ executablePath, timeout: 30000, args: ARGS })
      browsers.push(browser)
      t.teardown(() => browser.close())
      const page = await (await browser.newContext()).newPage()
      page.setDefaultTimeout(WAIT)
      page.on('pageerror', (error) => t.fail(`${username}'s page threw: ${error.message}`))
      page.on('console', (message) => { if (message.type() === 'error') consoleLines.push(`${username}: ${message.text()}`) })
      await page.goto(`${base}/rooms/lobby/`)
      // Not logged in: the room sends the browser to the login page, next= kept.
      t.match(page.url(), /\/accounts\/login\/\?next=\/rooms\/lobby\/$/, `${username} is sent to log in first`)
      await page.getByLabel('Username').fill(username)
      await page.getByLabel('Password').fill('wrong')
      await page.click('#login')
      await page.locator('#login-error').waitFor()
      await page.getByLabel('Username').fill(username)
      await page.getByLabel('Password').fill(password)
      await page.click('#login')
      await page.waitForURL(`${base}/rooms/lobby/`)
      await page.locator('#status', { hasText: 'Connected' }).waitFor()
      t.match(await page.textContent('#whoami'), username, `${username} is logged in and back at the room`)
      return page
    }
    const line = (page: Page, text: string) => page.locator('#messages li', { hasText: text })

    const alice = await open('alice', 'wonderland')
    const bob = await open('bob', 'builder')
    await line(alice, 'bob joined').waitFor()

    await alice.fill('#text', 'hello bob')
    await alice.click('#send')
    await line(bob, 'alice: hello bob').waitFor()
    t.pass('bob sees what alice sent, signed with her user name')

    // Alice uploads an avatar from the index page.
    const avatarFile = join(media, 'me.png')
    await writeFile(avatarFile, PNG)
    const aliceIndex = await alice.context().newPage()
    aliceIndex.setDefaultTimeout(WAIT)
    await aliceIndex.goto(`${base}/`)
    await aliceIndex.setInputFiles('#avatar', avatarFile)
    await aliceIndex.click('#upload')
    await aliceIndex.locator('#upload-status img').waitFor()
    t.pass('the upload went through CSRF with the JS recipe (X-CSRFToken from the cookie)')
    const avatar = await fetch(`${base}/avatars/1/`)
    t.equal(avatar.status, 200, 'the avatar is served')
    t.same(Buffer.from(await avatar.arrayBuffer()), PNG, 'byte for byte')
    await aliceIndex.close()

    // Bob logs out in another tab: his socket is closed by the server (4003).
    const bobTab = await bob.context().newPage()
    bobTab.setDefaultTimeout(WAIT)
    await bobTab.goto(`${base}/`)
    await bobTab.click('#logout')
    await bobTab.waitForURL(/\/accounts\/login\//)
    await bob.locator('#status', { hasText: 'Logged out (4003)' }).waitFor()
    t.pass("bob's open room page is disconnected with 4003")
    await line(alice, 'bob left the room').waitFor()
    t.pass('alice is told bob left')

    // A new socket for bob's browser is refused now.
    await bob.reload()
    t.match(bob.url(), /\/accounts\/login\//, 'the room page asks bob to log in again')

    t.same(consoleLines, [], 'no console errors')
  })
}
