// What the bench clients share: JSON lines to the runner, and the measured
// window (warm-up, then {"event":"measuring"} ... {"event":"window"}).
export const say = (message) => process.stdout.write(JSON.stringify(message) + '\n')
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Warms up, then measures for `seconds`; `setMeasuring` flips the caller's flag. Returns the window's length in s. */
export async function measuredWindow (warmup, seconds, setMeasuring) {
  await sleep(Number(warmup) * 1000)
  setMeasuring(true)
  say({ event: 'measuring' })
  const started = performance.now()
  await sleep(Number(seconds) * 1000)
  setMeasuring(false)
  const elapsed = (performance.now() - started) / 1000
  say({ event: 'window' })
  return elapsed
}
