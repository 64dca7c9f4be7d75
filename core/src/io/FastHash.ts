/**
 * A fast, non-cryptographic 128-bit string hash (four independent 32-bit FNV-1a lanes, each
 * finished with an avalanche mix). Used for logical data versions, which are compared for equality
 * on every step and need no resistance to deliberate collisions — only speed and a wide range.
 */

const mix = (h: number): number => {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** 32 hex characters identifying `text`. */
export const fastHash128 = (text: string): string => {
  let a = 0x811c9dc5
  let b = 0x01000193 ^ 0x9e3779b9
  let c = 0x27d4eb2f
  let d = 0x165667b1
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    a = Math.imul(a ^ code, 0x01000193)
    b = Math.imul(b ^ code, 0x01000197)
    c = Math.imul(c ^ code, 0x0100019b)
    d = Math.imul(d ^ code, 0x010001a3)
  }
  const n = text.length
  return hex32(mix(a ^ n)) + hex32(mix(b ^ Math.imul(n, 0x9e3779b9))) + hex32(mix(c + d)) + hex32(mix(d ^ a))
}

/** Two hex characters of each byte value. */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))

/** 8 hex characters of an unsigned 32-bit number (a table lookup per byte: no array, no padding). */
const hex32 = (h: number): string =>
  HEX[h >>> 24]! + HEX[(h >>> 16) & 0xff]! + HEX[(h >>> 8) & 0xff]! + HEX[h & 0xff]!
