// Which Node runs the suite. CI runs it twice: on the machine's Node and, through
// .ci/with-node24 (which sets FAV_EXPECT_NODE_MAJOR), on Node 24.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

const major = Number(process.versions.node.split('.')[0])
t.comment(`node ${process.version}`)

t.test('test processes and the node on PATH are the Node asked for', async (t) => {
  const onPath = execFileSync('node', ['-p', 'process.version'], { encoding: 'utf8' }).trim()
  t.equal(onPath, process.version, 'tsx, npm and the examples a test starts get the same Node')
  const expected = process.env.FAV_EXPECT_NODE_MAJOR
  if (expected !== undefined) t.equal(major, Number(expected), `this test process runs on Node ${expected}`)
})

t.test('package.json engines admits this Node', async (t) => {
  const { engines } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { engines: { node: string } }
  const m = /^>=(\d+)\.(\d+)$/.exec(engines.node)
  t.ok(m, `engines.node is a plain lower bound (${engines.node})`)
  if (m === null) return
  const [, minor] = process.versions.node.split('.').map(Number)
  t.ok(major > Number(m[1]) || (major === Number(m[1]) && minor >= Number(m[2])), `${process.version} satisfies ${engines.node}`)
})
