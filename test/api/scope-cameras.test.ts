import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { login, makeApi, type TestApi } from './support.ts'

// Camera routes under a district-scoped session (docs/api.md, "Console sessions"). The vision
// capability is replaced by a fixed frame and an empty detection log: what is under test is who
// may reach them, not the analysis (test/vision covers that).

const SYSTEM = { type: 'system' as const, id: 'test' }
const PASSWORD = 'Phú Xuân trực ban 1'
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xd9])
let api: TestApi
const asked: string[] = []

beforeAll(async () => {
  api = await makeApi({
    deps: {
      vision: {
        snapshot: async (camera: string) => (asked.push(camera), JPEG),
        detections: (camera: string) => (asked.push(camera), { items: [], next: null }),
      },
    },
  })
  await api.registry.createDevice({ id: 'cam-truong-tien', kind: 'camera', name: 'Cầu Trường Tiền', district: 'Phú Xuân' }, SYSTEM)
  await api.registry.createDevice({ id: 'cam-phong-dien', kind: 'camera', name: 'Ngã ba Phong Điền', district: 'Phong Điền' }, SYSTEM)
  await api.registry.users.createUser({ name: 'an', role: 'viewer', password: PASSWORD, districts: ['Phú Xuân'] }, SYSTEM)
})
afterAll(async () => api?.close())

describe('cameras for a district-scoped user', () => {
  it("serves the district's camera and answers 404 for another district's, without asking vision", async () => {
    const an = await login(api.app, 'an', PASSWORD)
    const get = (url: string) => api.app.inject({ method: 'GET', url, headers: { cookie: an.cookie } })
    expect((await get('/api/v1/cameras/cam-truong-tien/snapshot')).statusCode).toBe(200)
    expect((await get('/api/v1/cameras/cam-truong-tien/detections')).statusCode).toBe(200)
    for (const path of ['snapshot', 'detections']) {
      const res = await get(`/api/v1/cameras/cam-phong-dien/${path}`)
      expect(res.statusCode).toBe(404)
      expect(res.json().message).toMatch(/no camera "cam-phong-dien" is registered/)
    }
    expect(asked).toEqual(['cam-truong-tien', 'cam-truong-tien'])
  })
})
