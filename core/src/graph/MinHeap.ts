/**
 * A binary min-heap of non-negative integers. Used where graph algorithms break ties by asset key:
 * node indices are assigned in key order, so the smallest index is the smallest key.
 */
export class MinHeap {
  private items: Int32Array
  private length = 0

  constructor(capacity: number) {
    this.items = new Int32Array(Math.max(capacity, 4))
  }

  get size(): number {
    return this.length
  }

  push(value: number): void {
    if (this.length === this.items.length) {
      const grown = new Int32Array(this.items.length * 2)
      grown.set(this.items)
      this.items = grown
    }
    const items = this.items
    let i = this.length++
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (items[parent]! <= value) break
      items[i] = items[parent]!
      i = parent
    }
    items[i] = value
  }

  /** Removes and returns the smallest value; -1 when empty. */
  pop(): number {
    if (this.length === 0) return -1
    const items = this.items
    const top = items[0]!
    const last = items[--this.length]!
    let i = 0
    const n = this.length
    for (;;) {
      const left = 2 * i + 1
      if (left >= n) break
      const right = left + 1
      const child = right < n && items[right]! < items[left]! ? right : left
      if (items[child]! >= last) break
      items[i] = items[child]!
      i = child
    }
    if (n > 0) items[i] = last
    return top
  }
}
