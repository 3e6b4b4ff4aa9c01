// urls.py and routing.py: django.contrib.auth's login and logout views beside the chat.
import { LoginView, LogoutView, path } from 'fastify-async-views'
import { avatarPatterns } from './avatars.ts'
import { ChatConsumer } from './consumers.ts'
import { MEDIA_ROOT } from './settings.ts'
import { index, room } from './views.ts'

export const urlpatterns = [
  path('', index, { name: 'index' }),
  path('rooms/<str:room>/', room, { name: 'room' }),
  path('accounts/login/', LoginView.asView(), { name: 'login' }),
  path('accounts/logout/', LogoutView.asView({ nextPage: '/accounts/login/' }), { name: 'logout' }),
  ...avatarPatterns(MEDIA_ROOT)
]

export const websocketUrlpatterns = [
  path('ws/chat/<str:room>/', ChatConsumer.asHandler())
]
