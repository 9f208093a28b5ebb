import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { applyScale, decodeWords, encodeWords } from '../../edge/drivers/registers.ts'

describe('Modbus register decoding', () => {
  it('int32 2310 mm in both word orders', () => {
    expect(encodeWords({ type: 'int32', word_order: 'big' }, 2310)).toEqual([0, 2310])
    expect(encodeWords({ type: 'int32', word_order: 'little' }, 2310)).toEqual([2310, 0])
    expect(decodeWords({ type: 'int32', word_order: 'big' }, [0, 2310])).toBe(2310)
    expect(decodeWords({ type: 'int32', word_order: 'little' }, [2310, 0])).toBe(2310)
    // Read with the wrong order, the same words are a very different number.
    expect(decodeWords({ type: 'int32', word_order: 'little' }, [0, 2310])).toBe(2310 * 65536)
  })
  it('negative int16 / int32, uint16 / uint32 and float32', () => {
    expect(decodeWords({ type: 'int16', word_order: 'big' }, [0xffff])).toBe(-1)
    expect(decodeWords({ type: 'uint16', word_order: 'big' }, [0xffff])).toBe(65535)
    expect(decodeWords({ type: 'int32', word_order: 'big' }, [0xffff, 0xfffe])).toBe(-2)
    expect(decodeWords({ type: 'uint32', word_order: 'big' }, [0xffff, 0xfffe])).toBe(4294967294)
    expect(decodeWords({ type: 'float32', word_order: 'big' }, [0x4013, 0xd70a])).toBeCloseTo(2.31, 5)
    expect(decodeWords({ type: 'float32', word_order: 'little' }, [0xd70a, 0x4013])).toBeCloseTo(2.31, 5)
  })
  it('scale and offset', () => {
    expect(applyScale({ scale: 0.001, offset: 0 }, 2310)).toBeCloseTo(2.31, 9)
    expect(applyScale({ scale: 0.01, offset: -5 }, 800)).toBeCloseTo(3, 9)
  })
  it('round-trips every type and word order (property)', () => {
    const cases = [
      ['int16', fc.integer({ min: -32768, max: 32767 })],
      ['uint16', fc.integer({ min: 0, max: 65535 })],
      ['int32', fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })],
      ['uint32', fc.integer({ min: 0, max: 2 ** 32 - 1 })],
      ['float32', fc.float({ noNaN: true, noDefaultInfinity: true }).map((f) => Math.fround(f))],
    ] as const
    for (const [type, arb] of cases) {
      fc.assert(
        fc.property(arb, fc.constantFrom('big' as const, 'little' as const), (v, word_order) => {
          const e = { type, word_order }
          const words = encodeWords(e, v)
          return words.every((w) => w >= 0 && w <= 65535) && Object.is(decodeWords(e, words), v)
        }),
      )
    }
  })
})
