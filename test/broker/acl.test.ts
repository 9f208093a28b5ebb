import { describe, expect, it } from 'vitest'
import { devicePublish, deviceSubscribe, integrationSubscribe, mayForward, ROLE_READ } from '../../gateway/broker/acl.ts'
import { ROLES } from '../../gateway/registry/types.ts'

const A = 'kim-long-01'
const B = 'phu-oc-02'

describe('device publish ACL', () => {
  it.each([
    [`devices/${A}/telemetry`, 'telemetry', 'telemetry'],
    [`devices/${A}/status`, 'status', 'status'],
    [`devices/${A}/frames`, 'frames', 'frames'],
    [`devices/${A}/frames/1700000000000`, 'frames', 'frames/1700000000000'],
    [`devices/${A}/cmd/ack`, 'cmd', 'cmd/ack'],
  ])('allows %s', (topic, route, subtopic) => {
    expect(devicePublish(A, topic)).toEqual({ ok: true, route, subtopic })
  })

  it.each([
    [`devices/${B}/telemetry`, 'other_device'],
    [`devices/${A}x/telemetry`, 'other_device'],
    [`devices/${A}/config`, 'not_permitted'],
    [`devices/${A}/cmd`, 'not_permitted'],
    [`devices/${A}/frames/abc`, 'not_permitted'],
    [`devices/${A}/frames/1/2`, 'not_permitted'],
    [`devices/${A}/telemetry/x`, 'not_permitted'],
    [`devices/${A}`, 'not_permitted'],
    [`devices/${A}/`, 'not_permitted'],
    ['alerts/water_level/kim-long', 'not_permitted'],
    ['telemetry', 'not_permitted'],
    ['$SYS/broker/x', 'reserved_topic'],
    [`$devices/${A}/telemetry`, 'reserved_topic'],
    [`devices/${A}/#`, 'wildcard'],
    ['devices/+/telemetry', 'wildcard'],
    ['#', 'wildcard'],
  ])('refuses %s (%s)', (topic, reason) => {
    expect(devicePublish(A, topic)).toEqual({ ok: false, reason })
  })
})

describe('device subscribe ACL', () => {
  it.each([`devices/${A}/config`, `devices/${A}/cmd`])('allows %s', (filter) => {
    expect(deviceSubscribe(A, filter)).toEqual({ ok: true })
  })
  it.each([
    ['#', 'wildcard'],
    ['+/+/+', 'wildcard'],
    ['$SYS/#', 'reserved_topic'],
    ['devices/#', 'wildcard'],
    ['devices/+/config', 'wildcard'],
    [`devices/${A}/#`, 'wildcard'],
    [`devices/${A}/+`, 'wildcard'],
    [`devices/${B}/config`, 'other_device'],
    [`devices/${A}/telemetry`, 'not_permitted'],
    [`devices/${A}/cmd/ack`, 'not_permitted'],
    ['alerts/#', 'wildcard'],
    ['alerts/flood/x', 'not_permitted'],
  ])('refuses %s (%s)', (filter, reason) => {
    expect(deviceSubscribe(A, filter)).toEqual({ ok: false, reason })
  })
})

describe('integration subscribe ACL, every role', () => {
  for (const role of ROLES) {
    it.each([
      'alerts/#',
      'alerts/water_level/#',
      'alerts/+/kim-long',
      'alerts/aqi/hue-01',
      'devices/+/telemetry',
      'devices/+/status',
      `devices/${A}/telemetry`,
      `devices/${A}/status`,
    ])(`${role} may read %s`, (filter) => {
      expect(integrationSubscribe(role, filter)).toEqual({ ok: true })
    })
    it.each([
      ['#', 'wildcard'],
      ['+/telemetry', 'wildcard'],
      ['$SYS/#', 'reserved_topic'],
      ['devices/#', 'wildcard'],
      ['devices/+/+', 'wildcard'],
      ['devices/+/#', 'wildcard'],
      ['devices/#/telemetry', 'wildcard'],
      ['devices/+/frames', 'not_permitted'],
      [`devices/${A}/frames/#`, 'wildcard'],
      [`devices/${A}/cmd`, 'not_permitted'],
      [`devices/${A}/config`, 'not_permitted'],
      [`devices/${A}/cmd/ack`, 'not_permitted'],
      ['readings/x', 'not_permitted'],
    ])(`${role} may not read %s (%s)`, (filter, reason) => {
      expect(integrationSubscribe(role, filter)).toEqual({ ok: false, reason })
    })
  }
})

describe('forwarding', () => {
  it('gives a device its own config and cmd only', () => {
    const dev = { kind: 'device', deviceId: A } as const
    expect(mayForward(dev, `devices/${A}/config`)).toBe(true)
    expect(mayForward(dev, `devices/${A}/cmd`)).toBe(true)
    expect(mayForward(dev, `devices/${B}/config`)).toBe(false)
    expect(mayForward(dev, `devices/${A}/telemetry`)).toBe(false)
    expect(mayForward(dev, 'alerts/water_level/x')).toBe(false)
  })
  it('never gives an integration frames or commands', () => {
    for (const role of ROLES) {
      const integ = { kind: 'integration', role } as const
      expect(mayForward(integ, `devices/${A}/telemetry`)).toBe(ROLE_READ[role].includes('telemetry'))
      expect(mayForward(integ, 'alerts/water_level/kim-long')).toBe(true)
      expect(mayForward(integ, `devices/${A}/frames`)).toBe(false)
      expect(mayForward(integ, `devices/${A}/frames/1700000000000`)).toBe(false)
      expect(mayForward(integ, `devices/${A}/cmd`)).toBe(false)
      expect(mayForward(integ, `devices/${A}/cmd/ack`)).toBe(false)
      expect(mayForward(integ, '$SYS/x/heartbeat')).toBe(false)
    }
  })
})
