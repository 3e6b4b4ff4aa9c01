import type { FastifyInstance } from 'fastify'
import { randomBytes } from 'node:crypto'
import { Duplex, PassThrough } from 'node:stream'
import { WebSocket } from 'ws'
import { ERR_COMMUNICATOR_STATE, ERR_TIMEOUT, ERR_UNEXPECTED_FRAME } from '../errors.js'
import { kCloseCode } from '../symbols.js'

export interface CommunicatorOptions {
  headers?: Record<string, string>
  subprotocols?: string[]
}

export type ConnectResult = { connected: true, subprotocol: string | null } | { connected: false, closeCode: number }

/** Rejection of receiveFrom() once the server closed: carries the close code. */
export class ConnectionClosed extends Error {
  readonly closeCode: number
  constructor (closeCode: number) {
    super(`The server closed the connection (code ${closeCode})`)
    this.closeCode = closeCode
  }

  override get name (): string { return 'ConnectionClosed' }
}

/**
 * Channels' WebsocketCommunicator: talks to the app's consumers in process,
 * through Fastify's upgrade path (hooks, origin checks, routing) over an
 * in-memory socket, without a listening port. Call `await app.ready()` first.
 */
export class WebsocketCommunicator {
  readonly app: FastifyInstance
  readonly path: string
  readonly options: CommunicatorOptions
  #ws: WebSocket | undefined
  #frames: Array<string | Buffer> = []
  #waiters: Array<{ resolve: (frame: string | Buffer) => void, reject: (error: Error) => void }> = []
  #closeCode: number | undefined
  #closed: Promise<number> | undefined
  #responseHeaders: Array<[string, string]> = []

  /** `path` may be a path or a full URL (`wss://user:pass@host:8080/p?q#h`), as in Channels: only its path and query are used. */
  constructor (app: FastifyInstance, path: string, options: CommunicatorOptions = {}) {
    this.app = app
    this.path = path
    this.options = options
  }

  /** The handshake response's headers, `[lowercased name, value]` in order (after connect()). */
  get responseHeaders (): Array<[string, string]> {
    return this.#responseHeaders
  }

  /** Performs the handshake: `{ connected: true, subprotocol }` or `{ connected: false, closeCode }`. */
  async connect (timeoutMs = 3000): Promise<ConnectResult> {
    if (this.#ws !== undefined) throw new ERR_COMMUNICATOR_STATE('connect() was already called')
    const toServer = new PassThrough()
    const toClient = new PassThrough()
    const serverSide = Duplex.from({ readable: toServer, writable: toClient })
    // Duplex.from reports AbortError when destroyed: expected on close.
    serverSide.on('error', () => {})
    Object.assign(serverSide, { remoteAddress: '127.0.0.1', remotePort: 50000, encrypted: false })

    const headers: Record<string, string> = {
      host: 'localhost',
      ...lower(this.options.headers ?? {}),
      connection: 'Upgrade',
      upgrade: 'websocket',
      'sec-websocket-version': '13',
      'sec-websocket-key': randomBytes(16).toString('base64')
    }
    if (this.options.subprotocols !== undefined && this.options.subprotocols.length > 0) headers['sec-websocket-protocol'] = this.options.subprotocols.join(', ')
    const request: Record<string | symbol, unknown> = { method: 'GET', url: requestTarget(this.path), httpVersion: '1.1', httpVersionMajor: 1, httpVersionMinor: 1, headers, socket: serverSide, connection: serverSide }

    const response = await new Promise<{ status: number, headers: Array<[string, string]>, rest: Buffer }>((resolve, reject) => {
      let buffered = Buffer.alloc(0)
      const timer = setTimeout(() => {
        toClient.off('data', onData)
        reject(new ERR_TIMEOUT(`No handshake response from ${this.path} within ${timeoutMs} ms`))
      }, timeoutMs)
      const onData = (chunk: Buffer): void => {
        buffered = Buffer.concat([buffered, chunk])
        const end = buffered.indexOf('\r\n\r\n')
        if (end === -1) return
        clearTimeout(timer)
        toClient.off('data', onData)
        toClient.pause()
        const [statusLine, ...lines] = buffered.subarray(0, end).toString('latin1').split('\r\n')
        const parsed: Array<[string, string]> = []
        for (const line of lines) {
          const colon = line.indexOf(':')
          if (colon > 0) parsed.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()])
        }
        resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0), headers: parsed, rest: buffered.subarray(end + 4) })
      }
      toClient.on('data', onData)
      this.app.server.emit('upgrade', request, serverSide, Buffer.alloc(0))
    })

    this.#responseHeaders = response.headers
    // Made only now: it must not read the handshake response we just parsed.
    const clientSide = Duplex.from({ readable: toClient, writable: toServer })
    clientSide.on('error', () => {})
    if (response.status !== 101) {
      clientSide.destroy()
      const consumerCode = request[kCloseCode]
      return { connected: false, closeCode: typeof consumerCode === 'number' ? consumerCode : response.status }
    }
    const ws = new WebSocket(null as unknown as string, undefined, {})
    // Without an address ws builds a server-side socket; a client must mask its frames.
    ;(ws as unknown as { _isServer: boolean })._isServer = false
    this.#ws = ws
    ws.on('message', (data: Buffer, isBinary: boolean) => { this.#push(isBinary ? data : data.toString()) })
    ws.on('error', () => {})
    this.#closed = new Promise((resolve) => {
      ws.once('close', (code: number) => {
        this.#closeCode = code
        for (const waiter of this.#waiters.splice(0)) waiter.reject(new ConnectionClosed(code))
        resolve(code)
      })
    })
    ;(ws as unknown as { setSocket: (s: Duplex, head: Buffer, o: { maxPayload: number, skipUTF8Validation?: boolean }) => void })
      .setSocket(clientSide, response.rest, { maxPayload: 0 })
    toClient.resume()
    return { connected: true, subprotocol: response.headers.find(([name]) => name === 'sec-websocket-protocol')?.[1] ?? null }
  }

  #push (frame: string | Buffer): void {
    const waiter = this.#waiters.shift()
    if (waiter !== undefined) waiter.resolve(frame)
    else this.#frames.push(frame)
  }

  #open (): WebSocket {
    if (this.#ws === undefined) throw new ERR_COMMUNICATOR_STATE('connect() first')
    return this.#ws
  }

  /** Sends a text or binary frame to the consumer. */
  async sendTo (data: { text: string } | { bytes: Uint8Array }): Promise<void> {
    const ws = this.#open()
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error | null): void => { error == null ? resolve() : reject(error) }
      if ('text' in data && typeof data.text === 'string') ws.send(data.text, done)
      else ws.send((data as { bytes: Uint8Array }).bytes, { binary: true }, done)
    })
  }

  async sendJsonTo (content: unknown): Promise<void> {
    await this.sendTo({ text: JSON.stringify(content) })
  }

  /** The next frame (a string for text, a Buffer for binary); rejects with `closeCode` once the server closed. */
  receiveFrom (timeoutMs = 1000): Promise<string | Buffer> {
    this.#open()
    const frame = this.#frames.shift()
    if (frame !== undefined) return Promise.resolve(frame)
    if (this.#closeCode !== undefined) return Promise.reject(new ConnectionClosed(this.#closeCode))
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (value: string | Buffer) => { clearTimeout(timer); resolve(value) },
        reject: (error: Error) => { clearTimeout(timer); reject(error) }
      }
      const timer = setTimeout(() => {
        const index = this.#waiters.indexOf(waiter)
        if (index !== -1) this.#waiters.splice(index, 1)
        reject(new ERR_TIMEOUT(`Nothing received within ${timeoutMs} ms`))
      }, timeoutMs)
      this.#waiters.push(waiter)
    })
  }

  async receiveJsonFrom (timeoutMs = 1000): Promise<any> {
    const frame = await this.receiveFrom(timeoutMs)
    if (typeof frame !== 'string') throw new ERR_UNEXPECTED_FRAME('Expected a text frame, got a binary one')
    return JSON.parse(frame)
  }

  /** True when nothing arrives within `timeoutMs`. */
  async receiveNothing (timeoutMs = 100): Promise<boolean> {
    if (this.#frames.length > 0) return false
    try {
      await this.receiveFrom(timeoutMs)
      return false
    } catch (error) {
      return !(error instanceof ConnectionClosed)
    }
  }

  /** The server's close code once it closed (undefined while open). */
  get closeCode (): number | undefined {
    return this.#closeCode
  }

  /** Closes from the client side and waits for the close to complete; returns the close code. */
  async disconnect (code = 1000, timeoutMs = 3000): Promise<number | undefined> {
    const ws = this.#ws
    if (ws === undefined) return undefined
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(code)
    const timer = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), timeoutMs).unref())
    const closed = await Promise.race([this.#closed, timer])
    if (closed === undefined) ws.terminate()
    return closed
  }
}

// What a client sends for `path`: Channels' communicator takes a full URL too
// (scheme, user info, host and port are ignored), and a fragment never leaves
// the client. Characters a request line cannot hold are percent-encoded.
function requestTarget (path: string): string {
  let target = path
  const hash = target.indexOf('#')
  if (hash !== -1) target = target.slice(0, hash)
  const authority = /^(?:[a-zA-Z][a-zA-Z0-9+.-]*:)?\/\/[^/?]*/.exec(target)
  if (authority !== null) target = target.slice(authority[0].length)
  if (!target.startsWith('/')) target = '/' + target
  return target.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c))
}

function lower (headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = value
  return out
}
