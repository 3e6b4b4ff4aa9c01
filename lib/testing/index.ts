export { WebsocketCommunicator, ConnectionClosed } from './communicator.js'
export type { CommunicatorOptions, ConnectResult } from './communicator.js'
