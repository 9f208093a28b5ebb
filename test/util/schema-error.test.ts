import Type from 'typebox'
import Value from 'typebox/value'
import { describe, expect, it } from 'vitest'
import { schemaProblem } from '../../gateway/util/schema-error.ts'

// One reading of typebox's errors for every loader (config, notify, rules, stations, edge, models):
// the key is dotted and names an unknown or missing key itself.
const Section = Type.Object(
  {
    sms: Type.Object({ url: Type.String(), retries: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
    level: Type.Optional(Type.Enum(['info', 'debug'])),
  },
  { additionalProperties: false },
)

const problem = (value: unknown, opts = {}) => schemaProblem(Value.Errors(Section, value), opts)

describe('schemaProblem', () => {
  it("names an unknown key in the key, in the caller's wording or typebox's", () => {
    const doc = { sms: { url: 'x', retries: 1, urll: 'y' } }
    expect(problem(doc, { prefix: 'notify', unknown: 'is not an accepted key' })).toEqual({
      key: 'notify.sms.urll',
      message: 'is not an accepted key',
    })
    expect(problem(doc)).toEqual({ key: 'sms.urll', message: 'must not have additional properties' })
  })

  it("names every missing key when asked, else keeps typebox's sentence at the parent", () => {
    expect(problem({ sms: {} }, { required: true })).toEqual({ key: 'sms.url, retries', message: 'is required' })
    expect(problem({ sms: {} })?.key).toBe('sms')
  })

  it('says the allowed values of an enum, and a wrong value at its dotted path', () => {
    expect(problem({ sms: { url: 'x', retries: 1 }, level: 'loud' })).toEqual({ key: 'level', message: 'must be one of info, debug' })
    expect(problem({ sms: { url: 'x', retries: -1 } })).toEqual({ key: 'sms.retries', message: 'must be >= 0' })
  })

  it('names the root when the value itself is wrong, and nothing when it is right', () => {
    expect(problem(7, { root: '(top level)' })?.key).toBe('(top level)')
    expect(problem({ sms: { url: 'x', retries: 0 } })).toBeUndefined()
  })
})
