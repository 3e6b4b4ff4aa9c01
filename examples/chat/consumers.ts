// chat/consumers.py, in Node terms: one consumer per WebSocket connection.
import { AsyncJsonWebsocketConsumer } from 'fastify-async-views'

export const MAX_TEXT = 2000

/** The layer group of a room, or null for a name the layer would refuse (ASCII letters, digits, - _ .). */
export function roomGroup (room: string): string | null {
  return /^[\w.-]{1,80}$/.test(room) ? `chat_${room}` : null
}

/** A message's text if `content` is `{ text: string }` with 1 to MAX_TEXT characters, else null. */
export function messageText (content: unknown): string | null {
  const text = (content as { text?: unknown } | null)?.text
  if (typeof text !== 'string') return null
  const trimmed = text.trim()
  return trimmed.length > 0 && trimmed.length <= MAX_TEXT ? trimmed : null
}

// The type parameter types the URL kwargs (path('ws/chat/<str:room>/', ...) gives `room`).
export class ChatConsumer extends AsyncJsonWebsocketConsumer<{ room: string }> {
  // Joined before connect() and left after disconnect(): every connected
  // client is in 'lobby', so POST /announce/ reaches all rooms at once.
  override groups = ['lobby']
  roomGroup = ''
  user = ''

  override async connect (): Promise<void> {
    const group = roomGroup(this.scope.urlRoute.kwargs.room)
    if (group === null) {
      await this.close() // Before accept(): the handshake is refused with 403.
      return
    }
    this.roomGroup = group
    this.user = this.scope.query.get('user')?.trim().slice(0, 32) || `guest-${this.channelName.slice(-4)}`
    await this.channelLayer.groupAdd(this.roomGroup, this.channelName)
    await this.accept()
    await this.channelLayer.groupSend(this.roomGroup, { type: 'user.joined', user: this.user })
  }

  // Leave the room first, so the notice goes only to those still in it.
  override async disconnect (_code: number): Promise<void> {
    if (this.roomGroup === '') return
    await this.channelLayer.groupDiscard(this.roomGroup, this.channelName)
    await this.channelLayer.groupSend(this.roomGroup, { type: 'user.left', user: this.user })
  }

  // A frame from this client: { "text": "..." }. (A frame that is not JSON
  // at all closes the connection with 1007, as in Channels.)
  override async receiveJson (content: unknown): Promise<void> {
    const text = messageText(content)
    if (text === null) {
      await this.sendJson({ type: 'error', error: `A message is {"text": "..."} with 1 to ${MAX_TEXT} characters.` })
      return
    }
    await this.channelLayer.groupSend(this.roomGroup, { type: 'chat.message', user: this.user, text })
  }

  // Layer events, by type: 'chat.message' -> chatMessage (or chat_message).
  async chatMessage (event: { user: string, text: string }): Promise<void> {
    await this.sendJson({ type: 'chat.message', user: event.user, text: event.text })
  }

  async chatAnnouncement (event: { text: string }): Promise<void> {
    await this.sendJson({ type: 'chat.announcement', text: event.text })
  }

  async userJoined (event: { user: string }): Promise<void> {
    await this.sendJson({ type: 'user.joined', user: event.user })
  }

  async userLeft (event: { user: string }): Promise<void> {
    await this.sendJson({ type: 'user.left', user: event.user })
  }
}
