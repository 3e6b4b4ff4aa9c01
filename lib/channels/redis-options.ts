// The options of RedisChannelLayer: its own, and ioredis' connection options
// that pass through to its clients. Anything else is refused by name.
import type { ClusterNode, ClusterOptions, RedisOptions } from 'ioredis'
import { ImproperlyConfigured } from '../errors.js'
import type { LayerOptions } from './layer.js'

// ioredis' connection options, passed through to every client of the layer.
export const PASSED = [
  'host', 'port', 'path', 'family', 'tls', 'username', 'password', 'db', 'connectionName', 'disableClientInfo', 'clientInfoTag',
  'connectTimeout', 'disconnectTimeout', 'keepAlive', 'noDelay', 'retryStrategy', 'reconnectOnError', 'enableReadyCheck',
  'maxLoadingRetryTime', 'Connector', 'protocol', 'enableAutoPipelining', 'autoPipeliningIgnoredCommands', 'showFriendlyErrorStack',
  'sentinels', 'name', 'role', 'sentinelUsername', 'sentinelPassword', 'sentinelRetryStrategy', 'sentinelReconnectStrategy',
  'preferredSlaves', 'sentinelCommandTimeout', 'enableTLSForSentinelMode', 'sentinelTLS', 'natMap', 'updateSentinels',
  'sentinelMaxConnections', 'failoverDetector'
] as const satisfies ReadonlyArray<keyof RedisOptions>
// ioredis' Cluster options (beside the connection options, which go to every node).
export const CLUSTER_PASSED = [
  'natMap', 'dnsLookup', 'useSRVRecords', 'resolveSrv', 'slotsRefreshTimeout', 'slotsRefreshInterval', 'maxRedirections',
  'retryDelayOnMoved', 'retryDelayOnFailover', 'retryDelayOnClusterDown', 'retryDelayOnTryAgain', 'clusterRetryStrategy'
] as const satisfies ReadonlyArray<keyof ClusterOptions>
// Sentinel's options have no meaning on a Cluster.
const NOT_WITH_CLUSTER = ['sentinels', 'name', 'role', 'preferredSlaves', 'failoverDetector', 'updateSentinels'] as const
// ioredis options the layer sets itself: another value would break its guarantees.
const OWN: Record<string, string> = {
  keyPrefix: "is not supported: use 'prefix'",
  lazyConnect: 'is set by the layer',
  enableOfflineQueue: 'is set by the layer (false: commands fail while Redis is down, never queued for later)',
  offlineQueue: 'is set by the layer',
  commandQueue: 'is set by the layer',
  maxRetriesPerRequest: 'is set by the layer (0: a command fails at once while Redis is down)',
  autoResendUnfulfilledCommands: 'is set by the layer (false: a command that failed is never sent again)',
  autoResubscribe: 'is set by the layer',
  readOnly: 'would break the layer (it writes)',
  stringNumbers: 'would change the replies the layer reads',
  replyMapping: 'would change the replies the layer reads',
  monitor: 'would break the layer',
  scripts: 'is not supported',
  socketTimeout: "would cut the readers' blocking commands: use 'commandTimeout'",
  blockingTimeout: 'is set by the layer',
  blockingTimeoutGrace: 'is set by the layer',
  scaleReads: 'would send the layer\'s writes to replicas',
  redisOptions: 'is not needed: give the connection options (password, tls...) beside \'cluster\''
}
const OWN_KEYS = ['url', 'hosts', 'cluster', 'prefix', 'commandTimeout']

/** Refuses an option neither the layer nor ioredis' connection options name. */
export function checkRedisOptions (options: RedisLayerOptions): void {
  const check = (keys: string[], where: string, allowed: readonly string[]): void => {
    for (const key of keys) {
      if (Object.hasOwn(OWN, key)) throw new ImproperlyConfigured(`RedisChannelLayer: option '${key}'${where} ${OWN[key]}`)
      if (!(allowed as readonly string[]).includes(key)) throw new ImproperlyConfigured(`RedisChannelLayer: unknown option '${key}'${where}`)
    }
  }
  if (options === null || typeof options !== 'object') return
  const cluster = options.cluster !== undefined
  const keys = Object.keys(options)
  check(keys.filter((key) => !OWN_KEYS.includes(key)), '', [...PASSED, ...(cluster ? CLUSTER_PASSED : []), 'capacity', 'channelCapacity', 'expiry', 'groupExpiry', 'log'])
  if (cluster) {
    const mixed = keys.find((key) => key === 'url' || key === 'hosts' || (NOT_WITH_CLUSTER as readonly string[]).includes(key))
    if (mixed !== undefined) throw new ImproperlyConfigured(`RedisChannelLayer: option '${mixed}' cannot go with 'cluster'`)
    if (!Array.isArray(options.cluster) || options.cluster.length === 0) throw new ImproperlyConfigured('RedisChannelLayer: cluster must be a non-empty array of nodes (\'redis://host:port\' or { host, port })')
  }
  if (Array.isArray(options.hosts)) {
    options.hosts.forEach((host, i) => { if (host !== null && typeof host === 'object') check(Object.keys(host), ` (hosts[${i}])`, PASSED) })
  }
}

/** Options of RedisChannelLayer; ioredis' connection options (TLS, password, Sentinel...) pass through. */
export interface RedisLayerOptions extends LayerOptions, Pick<RedisOptions, typeof PASSED[number]>, Pick<ClusterOptions, typeof CLUSTER_PASSED[number]> {
  /** One Redis server. Default `redis://127.0.0.1:6379`. */
  url?: string
  /** Several servers: channels and groups are sharded over them by a hash of the name. */
  hosts?: Array<string | Pick<RedisOptions, typeof PASSED[number]>>
  /**
   * A Redis Cluster: some of its nodes (the rest are found). The connection
   * options given beside it (password, tls...) go to every node. See docs/scaling-out.md.
   */
  cluster?: ClusterNode[]
  /** Prefix of every key. Default `asgi`. */
  prefix?: string
  /** Ms a command may go unanswered (a hung server) before it fails; Redis refuses it if it comes later. Default 3000. */
  commandTimeout?: number
}
