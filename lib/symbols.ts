// Private state lives under these symbols, never as plain properties
// (as fastify/lib/symbols.js does).
export const kViewRoute = Symbol('fastify-async-views.viewRoute')
export const kHttpRequest = Symbol('fastify-async-views.httpRequest')
export const kChain = Symbol('fastify-async-views.chain')
export const kDeferredLocation = Symbol('fastify-async-views.deferredLocation')
export const kApply = Symbol('fastify-async-views.apply')
export const kReply = Symbol('fastify-async-views.reply')
export const kMatchData = Symbol('fastify-async-views.matchData')
export const kExchange = Symbol('fastify-async-views.exchange')
