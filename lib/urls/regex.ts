// Small regex-source utilities: Python syntax to JS, the literal prefix a
// Fastify route can use, and a template for reversing simple regexes.

/** Python's `(?P<n>`, `(?P=n)`, `\Z`, `\A` in their JS spelling. */
export function pythonToJs (source: string): string {
  return source
    .replace(/\(\?P<([\p{ID_Start}_][\p{ID_Continue}]*)>/gu, '(?<$1>')
    .replace(/\(\?P=([\p{ID_Start}_][\p{ID_Continue}]*)\)/gu, '\\k<$1>')
    .replace(/(^|[^\\])\\Z/g, '$1$')
    .replace(/(^|[^\\])\\A/g, '$1^')
}

export function escapeRegex (text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')
}

const QUANTIFIER = new Set(['?', '*', '+', '{'])
const META = new Set(['.', '*', '+', '?', '{', '}', '(', ')', '[', ']', '|', '^', '$', '\\'])
// Escapes that stand for one literal character.
const LITERAL_ESCAPE = /[./\-_~:@!$&'()*+,;=[\]{}?^|\\]/

/**
 * Splits an anchored regex source into the literal text it must start with and
 * the rest: `articles\/(?<y>\d+)` -> ['articles/', '(?<y>\d+)'].
 * Stops before a literal that a quantifier applies to.
 */
export function literalPrefix (source: string): [string, string] {
  if (hasTopLevelAlternation(source)) return ['', source]
  let literal = ''
  let i = 0
  while (i < source.length) {
    let char: string
    let next: number
    if (source[i] === '\\') {
      const escaped = source[i + 1]
      if (escaped === undefined || !LITERAL_ESCAPE.test(escaped)) break
      char = escaped
      next = i + 2
    } else if (META.has(source[i])) {
      break
    } else {
      char = source[i]
      next = i + 1
    }
    if (next < source.length && QUANTIFIER.has(source[next])) break
    literal += char
    i = next
  }
  return [literal, source.slice(i)]
}

function hasTopLevelAlternation (source: string): boolean {
  let depth = 0
  let inClass = false
  for (let i = 0; i < source.length; i++) {
    const c = source[i]
    if (c === '\\') { i++; continue }
    if (inClass) { if (c === ']') inClass = false; continue }
    if (c === '[') inClass = true
    else if (c === '(') depth++
    else if (c === ')') depth--
    else if (c === '|' && depth === 0) return true
  }
  return false
}

/** Names of the named groups and the count of unnamed capture groups. */
export function captureGroups (source: string): { named: string[], unnamed: number } {
  const named: string[] = []
  let unnamed = 0
  let inClass = false
  for (let i = 0; i < source.length; i++) {
    const c = source[i]
    if (c === '\\') { i++; continue }
    if (inClass) { if (c === ']') inClass = false; continue }
    if (c === '[') { inClass = true; continue }
    if (c !== '(') continue
    if (source[i + 1] !== '?') { unnamed++; continue }
    const m = /^\(\?<([\p{ID_Start}_$][\p{ID_Continue}$]*)>/u.exec(source.slice(i, i + 100))
    if (m !== null) named.push(m[1])
  }
  return { named, unnamed }
}
