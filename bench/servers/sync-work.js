// Sync functions for the sync suite, loaded on worker threads.
//
//   add(a, b)                 the trivial call of the roundtrip and pool scenarios
//   addTask({ a, b })         the same for a raw Piscina (one argument per task)
//   spin(ms)                  CPU-bound work for `ms` milliseconds
//   cpuView(request, kwargs)  a sync view doing 200 ms of CPU work (syncView)

export function add (a, b) {
  return a + b
}

export function addTask ({ a, b }) {
  return a + b
}

/** Burns the CPU for `ms` milliseconds (real arithmetic, checked against the clock). */
export function spin (ms) {
  const end = performance.now() + ms
  let x = 0
  while (performance.now() < end) {
    for (let i = 0; i < 10000; i++) x = (x * 31 + i) % 1000003
  }
  return x
}

export const CPU_MS = 200

export function cpuView () {
  return { spun: spin(CPU_MS) >= 0 }
}
