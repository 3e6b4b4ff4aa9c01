// chat/urls.py and chat/routing.py, in Node terms.
import { path } from 'fastify-async-views'
import { ChatConsumer } from './consumers.ts'
import { announce, index } from './views.ts'

export const urlpatterns = [
  path('', index, { name: 'index' }),
  path('announce/', announce, { name: 'announce-all' }),
  path('rooms/<str:room>/announce/', announce, { name: 'announce' })
]

export const websocketUrlpatterns = [
  path('ws/chat/<str:room>/', ChatConsumer.asHandler())
]
