// An async client for a weather service (a timer stands in for the network).
import { setTimeout as sleep } from 'node:timers/promises'

export async function fetchTemperature (city: string): Promise<number> {
  await sleep(100)
  let sum = 0
  for (const c of city.toLowerCase()) sum += c.charCodeAt(0)
  return 5 + (sum % 25) // Celsius, the same for a city every time.
}
