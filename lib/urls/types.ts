import type { Converters } from './converters.js'

type Trim<S extends string> = S extends ` ${infer R}` ? Trim<R> : S extends `${infer R} ` ? Trim<R> : S

// `<int:id>` -> { id: number }; `<id>` -> { id: string } (Django's default is str).
type Param<P extends string> =
  P extends `${infer C}:${infer N}`
    ? { [K in Trim<N>]: Trim<C> extends keyof Converters ? Converters[Trim<C>] : unknown }
    : { [K in Trim<P>]: string }

type Collect<S extends string> =
  S extends `${string}<${infer P}>${infer Rest}` ? Param<P> & Collect<Rest> : unknown

type Flatten<T> = { [K in keyof T]: T[K] }

/** The kwargs a `path()` route string gives its view: `KwargsOf<'a/<int:id>/'>` is `{ id: number }`. */
export type KwargsOf<Route extends string> = string extends Route ? Record<string, unknown> : Flatten<Collect<Route>>
