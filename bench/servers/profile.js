// BENCH_CPU_PROF=<dir>: a server profiles itself (as `node --cpu-prof` would,
// which NODE_OPTIONS does not allow) and writes <dir>/<name>-<pid>.cpuprofile
// when it is stopped. Open the file in Chrome DevTools or speedscope.
import { Session } from 'node:inspector/promises'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** Starts profiling when BENCH_CPU_PROF is set; resolves to an async stop() that writes the profile. */
export async function profileIfAsked (name) {
  const dir = process.env.BENCH_CPU_PROF
  if (!dir) return async () => {}
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: 100 })
  await session.post('Profiler.start')
  return async () => {
    const { profile } = await session.post('Profiler.stop')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, `${name}-${process.pid}.cpuprofile`), JSON.stringify(profile))
    session.disconnect()
  }
}
