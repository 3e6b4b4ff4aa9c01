// How every Fastify bench server listens and stops. The runner reads the
// single line `{"ready":true,"port":N}` on stdout and stops us with SIGTERM
// (background processes in non-interactive shells ignore SIGINT). Thousands of
// sockets may still be open then: the app gets 3 s to close, not one close
// handshake each. BENCH_CPU_PROF profiles the server (see profile.js).
import { profileIfAsked } from './profile.js'

export async function serve (app, port, name) {
  const stopProfile = await profileIfAsked(name)
  // Installed before listening so an early stop is clean too.
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.once(signal, () => {
      setTimeout(() => process.exit(0), 3000).unref()
      stopProfile().then(() => app.close()).then(() => process.exit(0), () => process.exit(1))
    })
  }
  await app.listen({ host: '127.0.0.1', port: Number(port) })
  console.log(JSON.stringify({ ready: true, port: app.server.address().port }))
}
