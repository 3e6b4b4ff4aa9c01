// chat/consumers.py behind AuthMiddlewareStack: scope.user is the user of the
// session cookie, loaded before connect().
import { AsyncJsonWebsocketConsumer } from 'fastify-async-views'
import { userOf } from './users.ts'

export const MAX_TEXT = 2000

/** The layer group of a room, or null for a name the layer would refuse. */
export function roomGroup (room: string): string | null {
  return /^[\w.-]{1,80}$/.test(room) ? `chat_${room}` : null
}

export class ChatConsumer extends AsyncJsonWebsocketConsumer<{ room: string }> {
  roomGroup = ''
  username = ''

  override async connect (): Promise<void> {
    const user = userOf(this.scope)
    const group = roomGroup(this.scope.urlRoute.kwargs.room)
    // Before accept(): the handshake is refused (HTTP 403, no 101).
    if (!user.isAuthenticated || group === null) return await this.close(4401)
    this.username = user.username
    this.roomGroup = group
    await this.channelLayer.groupAdd(group, this.channelName)
    await this.accept()
    await this.channelLayer.groupSend(group, { type: 'user.joined', user: this.username })
  }

  // Also after a logout elsewhere closed this socket (4003).
  override async disconnect (): Promise<void> {
    if (this.roomGroup === '') return
    await this.channelLayer.groupDiscard(this.roomGroup, this.channelName)
    await this.channelLayer.groupSend(this.roomGroup, { type: 'user.left', user: this.username })
  }

  // Signed with the session's user, never with a name the client sends.
  override async receiveJson (content: unknown): Promise<void> {
    const text = (content as { text?: unknown } | null)?.text
    if (typeof text !== 'string' || text.trim() === '' || text.length > MAX_TEXT) {
      await this.sendJson({ type: 'error', error: `A message is {"text": "..."} with 1 to ${MAX_TEXT} characters.` })
      return
    }
    await this.channelLayer.groupSend(this.roomGroup, { type: 'chat.message', user: this.username, text: text.trim() })
  }

  async chatMessage (event: { user: string, text: string }): Promise<void> {
    await this.sendJson({ type: 'chat.message', user: event.user, text: event.text })
  }

  async userJoined (event: { user: string }): Promise<void> {
    await this.sendJson({ type: 'user.joined', user: event.user })
  }

  async userLeft (event: { user: string }): Promise<void> {
    await this.sendJson({ type: 'user.left', user: event.user })
  }
}
